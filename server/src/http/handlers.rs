//! `impl AniTrackApi`: every handler runs its work through a [`Call`]
//! (authentication and throttles in, timeout, headers and log out) and
//! delegates to one domain function.

use anitrack_spec::api::{
    AnimeAnilistPath, AnimeSlugPath, AssetPath, ChangesPath, EntryForAnimePath, EntryPath,
    SettingsTokenPath, TokenPath,
};
use anitrack_spec::extract::RequestHeaders;
use anitrack_spec::reply::WithHeaders;
use anitrack_spec::routes;
use anitrack_spec::sync::{
    CreateConditions, EntryHeaders, ListChanges, ListChangesParams, ListHeaders, ReadConditions,
    ReplayHeaders, WriteConditions,
};
use anitrack_spec::types::{
    Anime, AnimeList, AnimeSearchParams, Health, ListEntries, ListEntry, ListEntryPatch,
    ListParams, NewListEntry, NewToken, TokenIssueRequest, TokenList, TokenSummary, User,
};
use anitrack_spec::{AniTrackApi, ApiError, JsonBody, QueryParams, Reply, StreamedOk};
use dropshot::{
    Body, HttpResponseCreated, HttpResponseDeleted, HttpResponseOk, Path, RequestContext,
    UntypedBody,
};
use http::Response;

use crate::auth::issue;
use crate::auth::tokens;
use crate::catalog::view;
use crate::error::Error;
use crate::request::{ApiContext, Call};
use crate::web::{self, Form};

/// Runs a settings-page handler's work: its errors become HTML pages, not JSON.
async fn page<F>(call: &Call<'_>, work: F) -> Response<Body>
where
    F: std::future::Future<Output = Result<Response<Body>, Error>>,
{
    let reply = call
        .run(async { Ok(work.await.unwrap_or_else(web::error_page)) })
        .await;
    // `run` only fails by its own timeout, also rendered as a page.
    dropshot::HttpResponse::to_result(reply).unwrap_or_else(|_| web::error_page(Error::Timeout))
}

pub enum AniTrack {}

impl AniTrackApi for AniTrack {
    type Context = ApiContext;

    async fn token_issue(
        rqctx: RequestContext<ApiContext>,
        body: JsonBody<TokenIssueRequest>,
    ) -> Result<Reply<HttpResponseCreated<NewToken>>, ApiError> {
        let call = Call::new(&rqctx);
        let reply = call
            .run(async {
                // Validation is cheap and tells which email to count (only a
                // well-formed one becomes a key); the throttles answer
                // first, and both before any hashing.
                let validated = issue::validate(body.into_value());
                let email = match &validated {
                    Ok(request) => Some(request.email.as_str()),
                    Err(_) => None,
                };
                call.throttle_sign_in(email, None).await?;
                let request = validated?;
                let ctx = call.context();
                let account = issue::sign_in_for_token(&ctx.db, &ctx.passwords, &request).await?;
                let (token, plain) = call.create_token(account.id, &request.device_name).await?;
                Ok(HttpResponseCreated(NewToken {
                    id: token.id,
                    name: token.name,
                    token: plain,
                    created_at: token.created_at.into(),
                }))
            })
            .await;
        // RFC 6749 §5.1: a response carrying a credential is never stored.
        Ok(reply
            .with_header(
                http::header::CACHE_CONTROL,
                http::HeaderValue::from_static("no-store"),
            )
            .with_header(
                http::header::PRAGMA,
                http::HeaderValue::from_static("no-cache"),
            ))
    }

    async fn token_list(
        rqctx: RequestContext<ApiContext>,
    ) -> Result<Reply<HttpResponseOk<TokenList>>, ApiError> {
        let call = Call::new(&rqctx);
        Ok(call
            .run(async {
                let owner = call.owner().await?;
                let principal = &owner.principal;
                let data = tokens::list(&owner.db, owner.account_id())
                    .await?
                    .into_iter()
                    .map(|token| TokenSummary {
                        is_current: token.id == principal.token_id,
                        id: token.id,
                        name: token.name,
                        created_at: token.created_at.into(),
                        last_used_at: token.last_used_at.map(Into::into),
                    })
                    .collect();
                Ok(HttpResponseOk(TokenList { data }))
            })
            .await)
    }

    async fn token_revoke_current(
        rqctx: RequestContext<ApiContext>,
    ) -> Result<Reply<HttpResponseDeleted>, ApiError> {
        let call = Call::new(&rqctx);
        Ok(call
            .run(async {
                let owner = call.owner().await?;
                tokens::revoke(&owner.db, owner.account_id(), owner.principal.token_id).await?;
                Ok(HttpResponseDeleted())
            })
            .await)
    }

    async fn token_revoke(
        rqctx: RequestContext<ApiContext>,
        path: Path<TokenPath>,
    ) -> Result<Reply<HttpResponseDeleted>, ApiError> {
        let call = Call::new(&rqctx);
        Ok(call
            .run(async {
                let owner = call.owner().await?;
                let token_id = path.into_inner().id.get().ok_or(Error::NotFound)?;
                if tokens::revoke(&owner.db, owner.account_id(), token_id).await? {
                    Ok(HttpResponseDeleted())
                } else {
                    Err(Error::NotFound)
                }
            })
            .await)
    }

    async fn user_view(
        rqctx: RequestContext<ApiContext>,
    ) -> Result<Reply<HttpResponseOk<User>>, ApiError> {
        let call = Call::new(&rqctx);
        Ok(call
            .run(async {
                let account = call.authenticate().await?.account;
                Ok(HttpResponseOk(User {
                    id: account.id,
                    name: account.name,
                    email: account.email,
                    created_at: account.created_at.into(),
                }))
            })
            .await)
    }

    async fn anime_list(
        rqctx: RequestContext<ApiContext>,
        query: QueryParams<AnimeSearchParams>,
    ) -> Result<Reply<HttpResponseOk<AnimeList>>, ApiError> {
        let call = Call::new(&rqctx);
        Ok(call
            .run(async {
                let get = |name: &str| query.get(name).map(String::from);
                let data = call.catalog(&view::Search(&get)).await?;
                Ok(HttpResponseOk(AnimeList { data }))
            })
            .await)
    }

    async fn anime_view_by_anilist_id(
        rqctx: RequestContext<ApiContext>,
        path: Path<AnimeAnilistPath>,
    ) -> Result<Reply<HttpResponseOk<Anime>>, ApiError> {
        let call = Call::new(&rqctx);
        Ok(call
            .run(async {
                let path = path.into_inner();
                // A path that names no AniList id is a 404, after the
                // token's 401, 429 or 403.
                let anilist_id = routes::ANIME_BY_ANILIST_ID
                    .admits(&path.slug)
                    .then(|| path.anilist_id.get())
                    .flatten();
                let read = view::ByAnilistId(anilist_id);
                Ok(HttpResponseOk(call.catalog(&read).await?))
            })
            .await)
    }

    async fn anime_view(
        rqctx: RequestContext<ApiContext>,
        path: Path<AnimeSlugPath>,
    ) -> Result<Reply<HttpResponseOk<Anime>>, ApiError> {
        let call = Call::new(&rqctx);
        Ok(call
            .run(async {
                let slug = path.into_inner().slug;
                Ok(HttpResponseOk(call.catalog(&view::BySlug(&slug)).await?))
            })
            .await)
    }

    async fn list_entries(
        rqctx: RequestContext<ApiContext>,
        query: QueryParams<ListParams>,
        headers: RequestHeaders<ReadConditions>,
    ) -> Result<Reply<WithHeaders<StreamedOk<ListEntries>, ListHeaders>>, ApiError> {
        let call = Call::new(&rqctx);
        Ok(call
            .run(super::list::entries(&call, &query, &headers))
            .await)
    }

    async fn list_changes(
        rqctx: RequestContext<ApiContext>,
        path: Path<ChangesPath>,
        query: QueryParams<ListChangesParams>,
        headers: RequestHeaders<ReadConditions>,
    ) -> Result<Reply<WithHeaders<HttpResponseOk<ListChanges>, ListHeaders>>, ApiError> {
        let call = Call::new(&rqctx);
        let path = path.into_inner();
        Ok(call
            .run(super::list::changes(&call, path, &query, &headers))
            .await)
    }

    async fn list_entry_for_anime(
        rqctx: RequestContext<ApiContext>,
        path: Path<EntryForAnimePath>,
        headers: RequestHeaders<ReadConditions>,
    ) -> Result<Reply<WithHeaders<HttpResponseOk<ListEntry>, EntryHeaders>>, ApiError> {
        let call = Call::new(&rqctx);
        let path = path.into_inner();
        Ok(call
            .run(super::list::for_anime(&call, path, &headers))
            .await)
    }

    async fn list_entry_create(
        rqctx: RequestContext<ApiContext>,
        headers: RequestHeaders<CreateConditions>,
        body: JsonBody<NewListEntry>,
    ) -> Result<Reply<WithHeaders<HttpResponseCreated<ListEntry>, EntryHeaders>>, ApiError> {
        let call = Call::new(&rqctx);
        Ok(call
            .run(super::list::create(&call, &headers, body.into_value()))
            .await)
    }

    async fn list_entry_update(
        rqctx: RequestContext<ApiContext>,
        path: Path<EntryPath>,
        headers: RequestHeaders<WriteConditions>,
        body: JsonBody<ListEntryPatch>,
    ) -> Result<Reply<WithHeaders<HttpResponseOk<ListEntry>, EntryHeaders>>, ApiError> {
        let call = Call::new(&rqctx);
        let path = path.into_inner();
        Ok(call
            .run(super::list::update(
                &call,
                path,
                &headers,
                body.into_value(),
            ))
            .await)
    }

    async fn list_entry_delete(
        rqctx: RequestContext<ApiContext>,
        path: Path<EntryPath>,
        headers: RequestHeaders<WriteConditions>,
    ) -> Result<Reply<WithHeaders<HttpResponseDeleted, ReplayHeaders>>, ApiError> {
        let call = Call::new(&rqctx);
        let path = path.into_inner();
        Ok(call.run(super::list::delete(&call, path, &headers)).await)
    }

    async fn health(
        rqctx: RequestContext<ApiContext>,
    ) -> Result<Reply<HttpResponseOk<Health>>, ApiError> {
        let call = Call::new(&rqctx);
        Ok(call
            .run(async {
                Ok(HttpResponseOk(Health {
                    status: "ok".into(),
                }))
            })
            .await)
    }

    async fn ready(
        rqctx: RequestContext<ApiContext>,
    ) -> Result<Reply<HttpResponseOk<Health>>, ApiError> {
        let call = Call::new(&rqctx);
        Ok(call
            .run(async {
                crate::db::check_ready(&call.context().db).await?;
                Ok(HttpResponseOk(Health {
                    status: "ready".into(),
                }))
            })
            .await)
    }

    async fn openapi_document(
        rqctx: RequestContext<ApiContext>,
    ) -> Result<Reply<Response<Body>>, ApiError> {
        let call = Call::new(&rqctx);
        Ok(call
            .run(async { Ok(web::reference::document(call.request().headers())) })
            .await)
    }

    async fn web_docs(rqctx: RequestContext<ApiContext>) -> Result<Response<Body>, ApiError> {
        let call = Call::new(&rqctx);
        Ok(page(&call, async { Ok(web::reference::page()) }).await)
    }

    async fn web_login_form(rqctx: RequestContext<ApiContext>) -> Result<Response<Body>, ApiError> {
        let call = Call::new(&rqctx);
        Ok(page(&call, web::login_page(&call)).await)
    }

    async fn web_login(
        rqctx: RequestContext<ApiContext>,
        body: UntypedBody,
    ) -> Result<Response<Body>, ApiError> {
        let form = Form::parse(body.as_bytes());
        let call = Call::new(&rqctx);
        Ok(page(&call, web::login(&call, form)).await)
    }

    async fn web_logout_form(
        rqctx: RequestContext<ApiContext>,
    ) -> Result<Response<Body>, ApiError> {
        let call = Call::new(&rqctx);
        Ok(page(&call, web::logout_page(&call)).await)
    }

    async fn web_logout(
        rqctx: RequestContext<ApiContext>,
        body: UntypedBody,
    ) -> Result<Response<Body>, ApiError> {
        let form = Form::parse(body.as_bytes());
        let call = Call::new(&rqctx);
        Ok(page(&call, web::logout(&call, form)).await)
    }

    async fn web_tokens(rqctx: RequestContext<ApiContext>) -> Result<Response<Body>, ApiError> {
        let call = Call::new(&rqctx);
        Ok(page(&call, web::tokens(&call)).await)
    }

    async fn web_token_create(
        rqctx: RequestContext<ApiContext>,
        body: UntypedBody,
    ) -> Result<Response<Body>, ApiError> {
        let form = Form::parse(body.as_bytes());
        let call = Call::new(&rqctx);
        Ok(page(&call, web::create_token(&call, form)).await)
    }

    async fn web_token_revoke_form(
        rqctx: RequestContext<ApiContext>,
        path: Path<SettingsTokenPath>,
    ) -> Result<Response<Body>, ApiError> {
        let id = path.into_inner().id.get();
        let call = Call::new(&rqctx);
        Ok(page(&call, web::revoke_page(&call, id)).await)
    }

    async fn web_token_revoke(
        rqctx: RequestContext<ApiContext>,
        path: Path<SettingsTokenPath>,
        body: UntypedBody,
    ) -> Result<Response<Body>, ApiError> {
        let id = path.into_inner().id.get();
        let form = Form::parse(body.as_bytes());
        let call = Call::new(&rqctx);
        Ok(page(&call, web::revoke(&call, id, form)).await)
    }

    async fn web_asset(
        rqctx: RequestContext<ApiContext>,
        path: Path<AssetPath>,
    ) -> Result<Response<Body>, ApiError> {
        let file = path.into_inner().file;
        let call = Call::new(&rqctx);
        Ok(page(&call, async { web::asset(&file) }).await)
    }
}
