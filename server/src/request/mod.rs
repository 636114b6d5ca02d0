//! [`Call`]: the one wrapper every handler goes through. On the way in:
//! bearer authentication with the per-token rate limit and the API-access
//! flag (one database round trip), or the token-issuance throttles. On the
//! way out: the request timeout, error mapping, rate-limit headers and the
//! request log, all inside a span carrying the request id.

use std::future::Future;
use std::net::IpAddr;
use std::sync::Mutex;

use anitrack_spec::{ApiError, Reply};
use dropshot::{HttpResponse, RequestContext};
use http::header;
use tracing::Instrument as _;

pub mod context;
pub mod limits;

use crate::auth::bearer::{self, Bearer};
use crate::auth::tokens::{Principal, Token};
use crate::auth::{issue, throttle};
use crate::catalog::reads::{self, CatalogRead};
use crate::error::Error;
pub use context::{ApiContext, Settings};
use limits::{Limit, Limits};

/// Query parameters that would carry a bearer token (RFC 6750's
/// `access_token`, Laravel's `api_token`). Tokens in URLs leak into logs and
/// histories, so a request carrying one is refused outright.
const TOKEN_QUERY_PARAMS: &[&str] = &["access_token", "api_token"];

fn token_in_query(query: Option<&str>) -> bool {
    query.is_some_and(|q| {
        q.split('&').any(|pair| {
            let name = pair.split('=').next().unwrap_or("");
            TOKEN_QUERY_PARAMS
                .iter()
                .any(|p| p.eq_ignore_ascii_case(name))
        })
    })
}

/// The token from `Authorization: Bearer <token>`, if the header is exactly
/// that (scheme case-insensitive, one space, one token).
fn bearer(headers: &http::HeaderMap) -> Option<&str> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let value = values.next()?.to_str().ok()?;
    if values.next().is_some() {
        return None;
    }
    let (scheme, credentials) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(credentials)
}

/// Who a request acts as, and the connection it acts with.
/// A read a handler makes as the token's owner, which may travel with the
/// token's lookup ([`Call::owner_then`]): it must only read, since its
/// result is dropped when the token is refused.
pub trait OwnerRead: Sync {
    type Output: Send;

    fn read<'a>(
        &'a self,
        db: &'a deadpool_postgres::Object,
        account_id: i64,
    ) -> impl std::future::Future<Output = Result<Self::Output, Error>> + Send + 'a;
}

pub struct Owner {
    pub principal: Principal,
    pub db: deadpool_postgres::Object,
}

impl Owner {
    pub fn account_id(&self) -> i64 {
        self.principal.account.id
    }
}

/// One request's passage through the API.
pub struct Call<'a> {
    rqctx: &'a RequestContext<ApiContext>,
    limits: Mutex<Limits>,
}

impl<'a> Call<'a> {
    pub fn new(rqctx: &'a RequestContext<ApiContext>) -> Self {
        Call {
            rqctx,
            limits: Mutex::new(Limits::default()),
        }
    }

    pub fn context(&self) -> &ApiContext {
        self.rqctx.context()
    }

    pub fn request(&self) -> &dropshot::RequestInfo {
        &self.rqctx.request
    }

    /// Whether the TCP peer is one of the operator's trusted proxies.
    pub fn behind_trusted_proxy(&self) -> bool {
        let peer = self.rqctx.request.remote_addr().ip();
        self.context()
            .settings
            .trusted_proxies
            .iter()
            .any(|net| net.contains(&peer))
    }

    /// Seconds until every exceeded rate-limit window ends, if one is.
    pub fn retry_after(&self) -> Option<i64> {
        let limits = self.limits.lock().ok()?;
        limits
            .0
            .iter()
            .filter(|l| l.exceeded())
            .map(|l| l.reset_in)
            .max()
    }

    fn record(&self, limit: Limit) {
        if let Ok(mut limits) = self.limits.lock() {
            limits.0.push(limit);
        }
    }

    /// The bearer token of the request (401 before anything else when it is
    /// missing, or sent in the query string).
    fn candidate(&self) -> Result<&str, Error> {
        let request = &self.rqctx.request;
        if token_in_query(request.uri().query()) {
            return Err(Error::Unauthenticated);
        }
        bearer(request.headers()).ok_or(Error::Unauthenticated)
    }

    /// A judged token as the request's owner: 429 (with the limit for the
    /// headers), then 403.
    fn accept(&self, judged: Bearer) -> Result<Owner, Error> {
        match judged {
            Bearer::OverLimit(limit) => {
                self.record(limit);
                Err(Error::TooManyAttempts)
            }
            Bearer::Accepted(accepted) => {
                let bearer::Accepted {
                    principal,
                    limit,
                    db,
                } = *accepted;
                self.record(limit);
                if !principal.account.api_access {
                    return Err(Error::ApiAccessDisabled);
                }
                Ok(Owner { principal, db })
            }
        }
    }

    /// The token's owner and a database connection to act with: the bearer
    /// token resolved and counted against its limit (401, then 429, then
    /// 403) on the connection the request then uses, one checkout in all.
    pub async fn owner(&self) -> Result<Owner, Error> {
        let candidate = self.candidate()?;
        let ctx = self.context();
        let quota = ctx.settings.rate_limit_per_minute;
        let judged = bearer::authenticate(&ctx.db, &ctx.throttle, quota, candidate).await?;
        self.accept(judged)
    }

    /// The owner and what `read` found for its account, in one round trip
    /// for a token this instance knows: the read goes out on the owner's
    /// connection right behind the token's lookup and rate-limit hit, and
    /// its result is dropped unless the token is accepted (so it must only
    /// read). For a token not seen here lately the read follows the lookup.
    pub async fn owner_then<R: OwnerRead>(&self, read: &R) -> Result<(Owner, R::Output), Error> {
        let pending = self.begin().await?;
        let Some(hint) = pending.account_hint() else {
            let owner = self.finish(pending).await?;
            let value = read.read(&owner.db, owner.account_id()).await?;
            return Ok((owner, value));
        };
        // `join` polls the lookup first, so it is sent first; both are
        // awaited, and the lookup's verdict comes before the read's result.
        let (found, value) =
            futures_util::future::join(pending.lookup(), read.read(pending.db(), hint)).await;
        let owner = self.decide(pending, found?)?;
        if owner.account_id() != hint {
            // The hint is 64 bits of the token's hash; on a collision the
            // read was for someone else: read again, for the owner.
            let value = read.read(&owner.db, owner.account_id()).await?;
            return Ok((owner, value));
        }
        Ok((owner, value?))
    }

    /// The token's owner and a catalog read, in one round trip for a token
    /// this instance knows: the token's lookup and rate-limit hit on the
    /// primary, and at once the read where [`reads::read`] sends it (the
    /// replica, or the primary's connection right behind the lookup). The
    /// catalog is public, and the read's result is dropped unless the token
    /// is accepted. For a token not seen here lately the read follows the
    /// lookup, so made-up tokens cost no read. Where the read ran goes into
    /// the request's log line (`read_from`).
    pub async fn catalog<R: CatalogRead>(&self, read: &R) -> Result<R::Output, Error> {
        let replica = self.context().replica.as_ref();
        let pending = self.begin().await?;
        let routed = if pending.account_hint().is_some() {
            let (found, routed) = futures_util::future::join(
                pending.lookup(),
                reads::read(replica, pending.db(), read),
            )
            .await;
            self.decide(pending, found?)?;
            routed?
        } else {
            let owner = self.finish(pending).await?;
            reads::read(replica, &owner.db, read).await?
        };
        tracing::Span::current().record("read_from", tracing::field::display(routed.source));
        Ok(routed.value)
    }

    /// A well-formed token on its way to a lookup, with a connection for
    /// it (429 when this instance knows it is over its limit).
    async fn begin(&self) -> Result<bearer::Pending, Error> {
        let candidate = self.candidate()?;
        let ctx = self.context();
        match bearer::begin(&ctx.db, &ctx.throttle, candidate).await? {
            Ok(pending) => Ok(pending),
            Err(limit) => {
                self.record(limit);
                Err(Error::TooManyAttempts)
            }
        }
    }

    /// The lookup's verdict on a pending token: its owner, or 401, 429, 403.
    fn decide(&self, pending: bearer::Pending, found: bearer::Found) -> Result<Owner, Error> {
        let ctx = self.context();
        let quota = ctx.settings.rate_limit_per_minute;
        self.accept(pending.decide(&ctx.throttle, quota, found)?)
    }

    /// The lookup of a pending token, then its verdict.
    async fn finish(&self, pending: bearer::Pending) -> Result<Owner, Error> {
        let found = pending.lookup().await?;
        self.decide(pending, found)
    }

    /// The token's owner, for a handler that needs no database after it.
    pub async fn authenticate(&self) -> Result<Principal, Error> {
        Ok(self.owner().await?.principal)
    }

    /// A pool connection, for the settings pages and the probes.
    pub async fn db(&self) -> Result<deadpool_postgres::Object, Error> {
        Ok(self.context().db.get().await?)
    }

    /// Counts a sign-in attempt (`POST /auth/token`, the settings page)
    /// against the client address and, when the address is within its
    /// limit, the email, before any password hashing. `email` must have
    /// passed `validate::email`.
    pub async fn throttle_sign_in(
        &self,
        email: Option<&str>,
        device: Option<&throttle::Device>,
    ) -> Result<(), Error> {
        let ctx = self.context();
        let limits = throttle::sign_in(
            &ctx.db,
            &ctx.throttle,
            ctx.settings.token_rate_limit_per_minute,
            self.client_ip(),
            email,
            device,
        )
        .await?;
        self.check(limits)
    }

    /// Mints a token for the account, counted against its hourly creation
    /// budget in the same transaction (`issue::mint_counted`): 429 when the
    /// budget is spent, 422 on `device_name` when the account holds the
    /// most tokens it may. The budget goes into the rate-limit headers.
    pub async fn create_token(
        &self,
        account_id: i64,
        name: &str,
    ) -> Result<(Token, String), Error> {
        let ctx = self.context();
        let (budget, minted) = issue::mint_counted(
            &ctx.db,
            &ctx.throttle,
            anitrack_spec::limits::TOKEN_CREATIONS_PER_HOUR,
            account_id,
            name,
        )
        .await?;
        self.check(vec![budget])?;
        minted
    }

    /// Records `limits` for the headers; 429 if any is exceeded.
    fn check(&self, limits: Vec<Limit>) -> Result<(), Error> {
        let exceeded = limits.iter().any(Limit::exceeded);
        for limit in limits {
            self.record(limit);
        }
        if exceeded {
            Err(Error::TooManyAttempts)
        } else {
            Ok(())
        }
    }

    /// The client's address: the TCP peer, or, when the peer is a trusted
    /// proxy, the nearest untrusted address in `X-Forwarded-For`.
    pub fn client_ip(&self) -> IpAddr {
        let peer = self.rqctx.request.remote_addr().ip();
        if !self.behind_trusted_proxy() {
            return peer;
        }
        let trusted = &self.context().settings.trusted_proxies;
        let forwarded: Vec<IpAddr> = self
            .rqctx
            .request
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|part| part.trim().parse().ok())
            .collect();
        forwarded
            .iter()
            .rev()
            .find(|ip| !trusted.iter().any(|net| net.contains(*ip)))
            .or(forwarded.first())
            .copied()
            .unwrap_or(peer)
    }

    /// Runs the handler's work under the request timeout, inside a span with
    /// the request id, and turns its outcome into the response.
    pub async fn run<R, F>(&self, work: F) -> Reply<R>
    where
        R: HttpResponse,
        F: Future<Output = Result<R, Error>>,
    {
        // `read_from` is filled in by a catalog read (see `catalog`).
        let span = tracing::info_span!(
            "request",
            request_id = %self.rqctx.request_id,
            read_from = tracing::field::Empty
        );
        let timeout = self.context().settings.request_timeout;
        let outcome = match tokio::time::timeout(timeout, work)
            .instrument(span.clone())
            .await
        {
            Ok(outcome) => outcome,
            Err(_) => Err(Error::Timeout),
        };
        span.in_scope(|| self.respond(outcome))
    }

    /// Maps the outcome, adds the rate-limit headers and logs the request.
    /// Internal causes of 5xx go to the log, never to the client; no header,
    /// body or query string is logged.
    fn respond<R: HttpResponse>(&self, outcome: Result<R, Error>) -> Reply<R> {
        let outcome = outcome.map_err(ApiError::from);
        let request = &self.rqctx.request;
        let status = match &outcome {
            Ok(response) => response.status_code(),
            Err(error) => error.status().as_status(),
        };
        match &outcome {
            Err(error) if status.is_server_error() => tracing::error!(
                method = %request.method(),
                path = %request.uri().path(),
                status = status.as_u16(),
                error = %error,
                "request failed"
            ),
            _ => tracing::info!(
                method = %request.method(),
                path = %request.uri().path(),
                status = status.as_u16(),
                "request completed"
            ),
        }
        let mut headers = self.limits.lock().map(|l| l.headers()).unwrap_or_default();
        headers.push((
            header::X_CONTENT_TYPE_OPTIONS,
            http::HeaderValue::from_static("nosniff"),
        ));
        headers
            .into_iter()
            .fold(Reply::from_result(outcome), |reply, (name, value)| {
                reply.with_header(name, value)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_in_the_query_string_are_spotted() {
        assert!(token_in_query(Some("access_token=atk_x")));
        assert!(token_in_query(Some("status=watching&api_token=x")));
        assert!(token_in_query(Some("ACCESS_TOKEN")));
        assert!(!token_in_query(Some("status=watching")));
        assert!(!token_in_query(Some("x_access_token=1")));
        assert!(!token_in_query(None));
    }

    #[test]
    fn only_a_single_bearer_credential_is_read() {
        let mut headers = http::HeaderMap::new();
        assert_eq!(bearer(&headers), None);
        headers.insert(header::AUTHORIZATION, "Bearer atk_abc".parse().unwrap());
        assert_eq!(bearer(&headers), Some("atk_abc"));
        headers.insert(header::AUTHORIZATION, "bearer atk_abc".parse().unwrap());
        assert_eq!(bearer(&headers), Some("atk_abc"));
        headers.insert(header::AUTHORIZATION, "Basic dXNlcjpwdw==".parse().unwrap());
        assert_eq!(bearer(&headers), None);
        headers.insert(header::AUTHORIZATION, "Bearer".parse().unwrap());
        assert_eq!(bearer(&headers), None);
        headers.insert(header::AUTHORIZATION, "Bearer a".parse().unwrap());
        headers.append(header::AUTHORIZATION, "Bearer b".parse().unwrap());
        assert_eq!(bearer(&headers), None);
    }
}
