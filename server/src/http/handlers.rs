//! `impl AniTrackApi`: each handler authenticates through
//! [`request::authenticate`], calls one domain function, and answers through
//! [`request::respond`].

use anitrack_spec::api::{
    AnimeAnilistPath, AnimeSlugPath, EntryForAnimePath, EntryPath, TokenPath,
};
use anitrack_spec::routes;
use anitrack_spec::types::{
    Anime, AnimeList, AnimeSearchParams, ListEntries, ListEntry, ListEntryPatch, ListParams,
    NewListEntry, NewToken, TokenIssueRequest, TokenList, TokenSummary, User,
};
use anitrack_spec::{AniTrackApi, ApiError, JsonBody, QueryParams, Reply};
use dropshot::{HttpResponseCreated, HttpResponseDeleted, HttpResponseOk, Path, RequestContext};

use super::ApiContext;
use super::request::{authenticate, respond};
use crate::auth::issue;
use crate::catalog::view;
use crate::db::tokens;
use crate::error::Error;
use crate::list;

pub enum AniTrack {}

impl AniTrackApi for AniTrack {
    type Context = ApiContext;

    async fn token_issue(
        rqctx: RequestContext<ApiContext>,
        body: JsonBody<TokenIssueRequest>,
    ) -> Result<Reply<HttpResponseCreated<NewToken>>, ApiError> {
        let outcome = async {
            let request = issue::validate(body.into_value())?;
            let ctx = rqctx.context();
            let (token, plain) = issue::issue(&ctx.db, &ctx.passwords, request).await?;
            Ok(HttpResponseCreated(NewToken {
                id: token.id,
                name: token.name,
                token: plain,
                created_at: token.created_at.into(),
            }))
        }
        .await;
        Ok(respond(&rqctx, outcome))
    }

    async fn token_list(
        rqctx: RequestContext<ApiContext>,
    ) -> Result<Reply<HttpResponseOk<TokenList>>, ApiError> {
        let outcome = async {
            let principal = authenticate(&rqctx).await?;
            let db = rqctx.context().db.get().await?;
            let data = tokens::list_active(&db, principal.account.id)
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
        }
        .await;
        Ok(respond(&rqctx, outcome))
    }

    async fn token_revoke_current(
        rqctx: RequestContext<ApiContext>,
    ) -> Result<Reply<HttpResponseDeleted>, ApiError> {
        let outcome = async {
            let principal = authenticate(&rqctx).await?;
            let db = rqctx.context().db.get().await?;
            // A concurrent revocation may have won; the token is gone either way.
            tokens::revoke(&db, principal.account.id, principal.token_id).await?;
            Ok(HttpResponseDeleted())
        }
        .await;
        Ok(respond(&rqctx, outcome))
    }

    async fn token_revoke(
        rqctx: RequestContext<ApiContext>,
        path: Path<TokenPath>,
    ) -> Result<Reply<HttpResponseDeleted>, ApiError> {
        let outcome = async {
            let principal = authenticate(&rqctx).await?;
            let token_id = path.into_inner().id.get().ok_or(Error::NotFound)?;
            let db = rqctx.context().db.get().await?;
            if tokens::revoke(&db, principal.account.id, token_id).await? {
                Ok(HttpResponseDeleted())
            } else {
                Err(Error::NotFound)
            }
        }
        .await;
        Ok(respond(&rqctx, outcome))
    }

    async fn user_view(
        rqctx: RequestContext<ApiContext>,
    ) -> Result<Reply<HttpResponseOk<User>>, ApiError> {
        let outcome = async {
            let account = authenticate(&rqctx).await?.account;
            Ok(HttpResponseOk(User {
                id: account.id,
                name: account.name,
                email: account.email,
                created_at: account.created_at.into(),
            }))
        }
        .await;
        Ok(respond(&rqctx, outcome))
    }

    async fn anime_list(
        rqctx: RequestContext<ApiContext>,
        query: QueryParams<AnimeSearchParams>,
    ) -> Result<Reply<HttpResponseOk<AnimeList>>, ApiError> {
        let outcome = async {
            authenticate(&rqctx).await?;
            let get = |name: &str| query.get(name).map(String::from);
            let data = view::search(&rqctx.context().db, &get).await?;
            Ok(HttpResponseOk(AnimeList { data }))
        }
        .await;
        Ok(respond(&rqctx, outcome))
    }

    async fn anime_view_by_anilist_id(
        rqctx: RequestContext<ApiContext>,
        path: Path<AnimeAnilistPath>,
    ) -> Result<Reply<HttpResponseOk<Anime>>, ApiError> {
        let outcome = async {
            authenticate(&rqctx).await?;
            let path = path.into_inner();
            if !routes::ANIME_BY_ANILIST_ID.admits(&path.slug) {
                return Err(Error::NotFound);
            }
            let anilist_id = path.anilist_id.get().ok_or(Error::NotFound)?;
            Ok(HttpResponseOk(
                view::by_anilist_id(&rqctx.context().db, anilist_id).await?,
            ))
        }
        .await;
        Ok(respond(&rqctx, outcome))
    }

    async fn anime_view(
        rqctx: RequestContext<ApiContext>,
        path: Path<AnimeSlugPath>,
    ) -> Result<Reply<HttpResponseOk<Anime>>, ApiError> {
        let outcome = async {
            authenticate(&rqctx).await?;
            let slug = path.into_inner().slug;
            Ok(HttpResponseOk(
                view::by_slug(&rqctx.context().db, &slug).await?,
            ))
        }
        .await;
        Ok(respond(&rqctx, outcome))
    }

    async fn list_entries(
        rqctx: RequestContext<ApiContext>,
        query: QueryParams<ListParams>,
    ) -> Result<Reply<HttpResponseOk<ListEntries>>, ApiError> {
        let outcome = async {
            let principal = authenticate(&rqctx).await?;
            let data = list::list(
                &rqctx.context().db,
                principal.account.id,
                query.get("status"),
            )
            .await?;
            Ok(HttpResponseOk(ListEntries { data }))
        }
        .await;
        Ok(respond(&rqctx, outcome))
    }

    async fn list_entry_for_anime(
        rqctx: RequestContext<ApiContext>,
        path: Path<EntryForAnimePath>,
    ) -> Result<Reply<HttpResponseOk<ListEntry>>, ApiError> {
        let outcome = async {
            let principal = authenticate(&rqctx).await?;
            let path = path.into_inner();
            if !routes::LIST_ENTRY_FOR_ANIME.admits(&path.literal) {
                return Err(Error::NotFound);
            }
            let anime_id = path.anime_id.get().ok_or(Error::NotFound)?;
            Ok(HttpResponseOk(
                list::for_anime(&rqctx.context().db, principal.account.id, anime_id).await?,
            ))
        }
        .await;
        Ok(respond(&rqctx, outcome))
    }

    async fn list_entry_create(
        rqctx: RequestContext<ApiContext>,
        body: JsonBody<NewListEntry>,
    ) -> Result<Reply<HttpResponseCreated<ListEntry>>, ApiError> {
        let outcome = async {
            let principal = authenticate(&rqctx).await?;
            let entry =
                list::create(&rqctx.context().db, principal.account.id, body.into_value()).await?;
            Ok(HttpResponseCreated(entry))
        }
        .await;
        Ok(respond(&rqctx, outcome))
    }

    async fn list_entry_update(
        rqctx: RequestContext<ApiContext>,
        path: Path<EntryPath>,
        body: JsonBody<ListEntryPatch>,
    ) -> Result<Reply<HttpResponseOk<ListEntry>>, ApiError> {
        let outcome = async {
            let principal = authenticate(&rqctx).await?;
            let entry_id = path.into_inner().entry_id.get().ok_or(Error::NotFound)?;
            let db = &rqctx.context().db;
            Ok(HttpResponseOk(
                list::update(db, principal.account.id, entry_id, body.into_value()).await?,
            ))
        }
        .await;
        Ok(respond(&rqctx, outcome))
    }

    async fn list_entry_delete(
        rqctx: RequestContext<ApiContext>,
        path: Path<EntryPath>,
    ) -> Result<Reply<HttpResponseDeleted>, ApiError> {
        let outcome = async {
            let principal = authenticate(&rqctx).await?;
            let entry_id = path.into_inner().entry_id.get().ok_or(Error::NotFound)?;
            list::delete(&rqctx.context().db, principal.account.id, entry_id).await?;
            Ok(HttpResponseDeleted())
        }
        .await;
        Ok(respond(&rqctx, outcome))
    }
}
