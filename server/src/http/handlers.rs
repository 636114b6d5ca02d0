//! `impl AniTrackApi`: each handler authenticates through
//! [`request::authenticate`], calls one domain function, and answers through
//! [`request::respond`].

use anitrack_spec::api::TokenPath;
use anitrack_spec::types::{NewToken, TokenIssueRequest, TokenList, TokenSummary, User};
use anitrack_spec::{AniTrackApi, ApiError, JsonBody, Reply};
use dropshot::{HttpResponseCreated, HttpResponseDeleted, HttpResponseOk, Path, RequestContext};

use super::ApiContext;
use super::request::{authenticate, respond};
use crate::auth::issue;
use crate::db::tokens;
use crate::error::Error;

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
}
