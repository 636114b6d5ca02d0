//! Published paths that dropshot's router cannot register as written.
//!
//! dropshot (0.18) refuses a literal and a variable path segment as siblings
//! (oxidecomputer/dropshot#199, open since 2021), but the v1 contract has two
//! such pairs: `GET /anime/{slug}` beside `GET /anime/anilist/{anilistId}`,
//! and `PATCH|DELETE /list/{entryId}` beside `GET /list/anime/{animeId}`.
//!
//! The mechanism, in one place: such an operation is *served* at a shape the
//! router accepts, where the literal becomes the sibling variable
//! (`/anime/{slug}/{anilistId}`), and its handler answers 404 unless that
//! variable holds the literal ([`RouteAlias::admits`]). When the served shape
//! is the sibling's own path (`GET /list/changes` is served as
//! `GET /list/{entryId}`, beside `PATCH|DELETE /list/{entryId}`), only the
//! alias's method moves. The document emitter
//! ([`crate::document`]) moves the operation back to its *published* literal
//! path and drops the internal variable, so the document, the generated
//! client and every tool that reads it see exactly the contract's URLs.
//!
//! Why this shape rather than merging documents from conflict-free partial
//! APIs: the server still needs one router, so the served shape is needed
//! anyway; keeping one API trait keeps one source for both.
//! When dropshot learns overlapping routes, delete this module and register
//! the literal paths directly; `dropshot_still_refuses_literal_beside_variable`
//! in the tests below starts failing when that day comes.

use crate::extract::LiteralSegment;

/// An operation served at `served` but published at `published`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouteAlias {
    /// The aliased operation's method, lower case as in the document.
    pub method: &'static str,
    /// The path registered with dropshot's router.
    pub served: &'static str,
    /// The path in the published document: the contract's URL.
    pub published: &'static str,
    /// The router-side variable that stands where the literal belongs.
    pub literal_param: &'static str,
    /// The literal the variable must hold.
    pub literal: &'static str,
}

impl RouteAlias {
    /// Whether a request's segment is the literal, i.e. the request really
    /// addressed the published path. Anything else is a 404.
    pub fn admits(&self, segment: &LiteralSegment) -> bool {
        segment.as_str() == self.literal
    }

    /// Whether a request to a sibling operation of the served shape really
    /// addressed this alias's published path (`PATCH /list/changes` reaches
    /// `PATCH /list/{entryId}`): that is another method on a published path,
    /// a 405 as the router would answer it.
    pub fn is_published_path(&self, request_path: &str) -> bool {
        request_path.trim_end_matches('/') == self.published
    }
}

/// `GET /api/v1/anime/anilist/{anilistId}` beside `GET /api/v1/anime/{slug}`.
pub const ANIME_BY_ANILIST_ID: RouteAlias = RouteAlias {
    method: "get",
    served: "/api/v1/anime/{slug}/{anilistId}",
    published: "/api/v1/anime/anilist/{anilistId}",
    literal_param: "slug",
    literal: "anilist",
};

/// `GET /api/v1/list/anime/{animeId}` beside `PATCH|DELETE /api/v1/list/{entryId}`.
pub const LIST_ENTRY_FOR_ANIME: RouteAlias = RouteAlias {
    method: "get",
    served: "/api/v1/list/{entryId}/{animeId}",
    published: "/api/v1/list/anime/{animeId}",
    literal_param: "entryId",
    literal: "anime",
};

/// `GET /api/v1/list/changes` beside `PATCH|DELETE /api/v1/list/{entryId}`:
/// served as `GET /list/{entryId}`, which the contract does not otherwise
/// have (any other segment there answers 405, as before).
pub const LIST_CHANGES: RouteAlias = RouteAlias {
    method: "get",
    served: "/api/v1/list/{entryId}",
    published: "/api/v1/list/changes",
    literal_param: "entryId",
    literal: "changes",
};

/// Every alias the document emitter applies.
pub const ALIASES: &[RouteAlias] = &[ANIME_BY_ANILIST_ID, LIST_ENTRY_FOR_ANIME, LIST_CHANGES];

/// Rewrites an emitted document's `paths` from served to published shape.
///
/// Fails if a published path is already taken or an aliased operation does
/// not carry the variable it is supposed to replace: both mean the alias
/// table and the API trait disagree.
pub fn publish_paths(
    document: &mut serde_json::Value,
    aliases: &[RouteAlias],
) -> Result<(), String> {
    let Some(paths) = document.get_mut("paths").and_then(|p| p.as_object_mut()) else {
        return Err("document has no `paths` object".to_string());
    };
    for alias in aliases {
        let Some(served) = paths.get_mut(alias.served).and_then(|p| p.as_object_mut()) else {
            // The trait does not (yet) declare an operation at this shape.
            continue;
        };
        let Some(mut operation) = served.remove(alias.method) else {
            continue;
        };
        // Path-level keys (e.g. shared parameters) do not come from dropshot;
        // an item left with no operation goes.
        if served.is_empty() {
            paths.remove(alias.served);
        }
        let parameters = operation
            .get_mut("parameters")
            .and_then(|p| p.as_array_mut())
            .ok_or_else(|| format!("{} {} has no parameters", alias.method, alias.served))?;
        let before = parameters.len();
        parameters.retain(|p| {
            !(p.get("in").and_then(|v| v.as_str()) == Some("path")
                && p.get("name").and_then(|v| v.as_str()) == Some(alias.literal_param))
        });
        if parameters.len() + 1 != before {
            return Err(format!(
                "{} {} does not declare path variable `{}`",
                alias.method, alias.served, alias.literal_param
            ));
        }
        let published = paths
            .entry(alias.published.to_string())
            .or_insert_with(|| serde_json::json!({}));
        let published = published
            .as_object_mut()
            .ok_or_else(|| format!("path item {} is not an object", alias.published))?;
        if published.contains_key(alias.method) {
            return Err(format!(
                "published path {} already has a {} operation",
                alias.published, alias.method
            ));
        }
        published.insert(alias.method.to_string(), operation);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use dropshot::{ApiDescription, HttpError, HttpResponseOk, Path, RequestContext, endpoint};
    use schemars::JsonSchema;
    use serde::Deserialize;

    #[derive(Deserialize, JsonSchema)]
    struct SlugPath {
        #[allow(dead_code)]
        slug: String,
    }

    #[derive(Deserialize, JsonSchema)]
    struct AliasPath {
        #[allow(dead_code)]
        slug: LiteralSegment,
        #[allow(dead_code)]
        #[serde(rename = "anilistId")]
        anilist_id: crate::PathId,
    }

    #[endpoint { method = GET, path = "/api/v1/anime/{slug}" }]
    async fn by_slug(
        _: RequestContext<()>,
        _: Path<SlugPath>,
    ) -> Result<HttpResponseOk<()>, HttpError> {
        Ok(HttpResponseOk(()))
    }

    #[endpoint { method = GET, path = "/api/v1/anime/{slug}/{anilistId}" }]
    async fn by_anilist_served(
        _: RequestContext<()>,
        _: Path<AliasPath>,
    ) -> Result<HttpResponseOk<()>, HttpError> {
        Ok(HttpResponseOk(()))
    }

    #[derive(Deserialize, JsonSchema)]
    struct AnilistPath {
        #[allow(dead_code)]
        #[serde(rename = "anilistId")]
        anilist_id: i64,
    }

    #[endpoint { method = GET, path = "/api/v1/anime/anilist/{anilistId}" }]
    async fn by_anilist_literal(
        _: RequestContext<()>,
        _: Path<AnilistPath>,
    ) -> Result<HttpResponseOk<()>, HttpError> {
        Ok(HttpResponseOk(()))
    }

    fn served_api() -> ApiDescription<()> {
        let mut api = ApiDescription::new();
        api.register(by_slug).unwrap();
        api.register(by_anilist_served).unwrap();
        api
    }

    #[test]
    fn dropshot_still_refuses_literal_beside_variable() {
        // dropshot 0.18 panics inside `register`; a later version might
        // return an error or refuse when building the router instead.
        let refused = std::panic::catch_unwind(|| {
            let mut api = ApiDescription::<()>::new();
            api.register(by_slug).unwrap();
            if api.register(by_anilist_literal).is_err() {
                return true;
            }
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| api.into_router())).is_err()
        })
        .unwrap_or(true);
        assert!(
            refused,
            "dropshot now accepts overlapping routes (dropshot#199): remove crate::routes"
        );
    }

    #[test]
    fn served_shape_is_accepted_by_the_router() {
        let api = served_api();
        let _router = api.into_router();
    }

    #[test]
    fn emitter_publishes_the_literal_path_without_the_internal_variable() {
        let api = served_api();
        let mut doc = api
            .openapi("t", dropshot::semver::Version::new(1, 0, 0))
            .json()
            .unwrap();
        publish_paths(&mut doc, ALIASES).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        let keys: Vec<&str> = paths.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["/api/v1/anime/anilist/{anilistId}", "/api/v1/anime/{slug}"]
        );
        let params = &paths["/api/v1/anime/anilist/{anilistId}"]["get"]["parameters"];
        let names: Vec<&str> = params
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["anilistId"]);
        assert_eq!(params[0]["schema"]["type"], "integer");
        assert_eq!(params[0]["schema"]["format"], "int64");
    }

    #[test]
    fn emitter_refuses_an_alias_whose_variable_is_missing() {
        let api = served_api();
        let mut doc = api
            .openapi("t", dropshot::semver::Version::new(1, 0, 0))
            .json()
            .unwrap();
        let wrong = RouteAlias {
            literal_param: "nope",
            ..ANIME_BY_ANILIST_ID
        };
        let err = publish_paths(&mut doc, &[wrong]).unwrap_err();
        assert!(
            err.contains("does not declare path variable `nope`"),
            "{err}"
        );
    }

    #[derive(Deserialize, JsonSchema)]
    struct EntryIdPath {
        #[allow(dead_code)]
        #[serde(rename = "entryId")]
        entry_id: String,
    }

    #[endpoint { method = GET, path = "/api/v1/list/{entryId}" }]
    async fn changes_served(
        _: RequestContext<()>,
        _: Path<EntryIdPath>,
        _: dropshot::Query<LimitQuery>,
    ) -> Result<HttpResponseOk<()>, HttpError> {
        Ok(HttpResponseOk(()))
    }

    #[derive(Deserialize, JsonSchema)]
    struct LimitQuery {
        #[allow(dead_code)]
        limit: Option<u32>,
    }

    #[endpoint { method = PATCH, path = "/api/v1/list/{entryId}" }]
    async fn entry_update(
        _: RequestContext<()>,
        _: Path<EntryIdPath>,
    ) -> Result<HttpResponseOk<()>, HttpError> {
        Ok(HttpResponseOk(()))
    }

    #[test]
    fn an_alias_sharing_its_served_path_moves_only_its_method() {
        let mut api = ApiDescription::<()>::new();
        api.register(changes_served).unwrap();
        api.register(entry_update).unwrap();
        let mut doc = api
            .openapi("t", dropshot::semver::Version::new(1, 0, 0))
            .json()
            .unwrap();
        publish_paths(&mut doc, &[LIST_CHANGES]).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        let methods = |path: &str| -> Vec<String> {
            paths[path].as_object().unwrap().keys().cloned().collect()
        };
        assert_eq!(methods("/api/v1/list/{entryId}"), ["patch"]);
        assert_eq!(methods("/api/v1/list/changes"), ["get"]);
        let params = &paths["/api/v1/list/changes"]["get"]["parameters"];
        let names: Vec<&str> = params
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["limit"], "the literal's variable is gone");
        assert!(LIST_CHANGES.is_published_path("/api/v1/list/changes"));
        assert!(!LIST_CHANGES.is_published_path("/api/v1/list/12"));
    }

    #[test]
    fn only_the_literal_is_admitted() {
        let anilist: LiteralSegment = serde_json::from_str("\"anilist\"").unwrap();
        let other: LiteralSegment = serde_json::from_str("\"anilistx\"").unwrap();
        assert!(ANIME_BY_ANILIST_ID.admits(&anilist));
        assert!(!ANIME_BY_ANILIST_ID.admits(&other));
        assert!(!LIST_ENTRY_FOR_ANIME.admits(&anilist));
    }
}
