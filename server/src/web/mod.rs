//! The settings page (`/login`, `/logout`, `/settings/tokens`): sign in in a
//! browser and manage API tokens. Server-rendered HTML that works without
//! JavaScript; outside `/api/v1` and the OpenAPI document.
//!
//! Sessions live in PostgreSQL (every instance sees them) behind a
//! `__Host-`, `Secure`, `HttpOnly`, `SameSite=Lax` cookie (see
//! [`cookies`]), with an idle and an absolute expiry. Every state-changing
//! form carries a CSRF token: the session's synchronizer token, or, on the
//! sign-in form, a double-submit cookie signed by the server. Sign-in uses
//! the same Argon2id check and the same per-address and per-email counters
//! as `POST /auth/token`; token creation the same per-account budget and
//! cap.

mod cookies;
mod pages;

use chrono::{DateTime, Utc};
use dropshot::Body;
use http::{HeaderValue, Response, StatusCode, header};
use subtle::ConstantTimeEq as _;

use crate::auth::issue;
use crate::auth::sessions::{self, ABSOLUTE, Session, random_value as random_token};
use crate::auth::tokens;
use crate::error::Error;
use crate::request::Call;
use crate::validate::{self, TextKind, forbidden_character};

/// Cookie names before the `__Host-` prefix ([`cookies::name`]).
pub const SESSION_COOKIE: &str = "anitrack_session";
const LOGIN_CSRF_COOKIE: &str = "anitrack_login_csrf";
/// What the login CSRF cookie's signature is bound to.
const LOGIN_CSRF_PURPOSE: &str = "login-csrf";

const CSS: &str = include_str!("../../assets/settings.css");
const JS: &str = include_str!("../../assets/settings.js");

/// A page, or a redirect.
pub type Page = Response<Body>;

fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

fn html(status: StatusCode, body: String, cookies: &[String]) -> Page {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    // Pages may show a token: never cache them.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(cookie) {
            headers.append(header::SET_COOKIE, value);
        }
    }
    response
}

fn render(status: StatusCode, template: &impl askama::Template, cookies: &[String]) -> Page {
    match template.render() {
        Ok(body) => html(status, body, cookies),
        Err(error) => {
            tracing::error!(%error, "rendering a page failed");
            html(
                StatusCode::INTERNAL_SERVER_ERROR,
                "<h1>Server Error</h1>".into(),
                &[],
            )
        }
    }
}

fn redirect(to: &str, cookies: &[String]) -> Page {
    let mut response = html(StatusCode::SEE_OTHER, String::new(), cookies);
    if let Ok(location) = HeaderValue::from_str(to) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

fn message(status: StatusCode, title: &str, text: &str, link: &str, link_text: &str) -> Page {
    render(
        status,
        &pages::Message {
            title,
            text,
            link,
            link_text,
        },
        &[],
    )
}

/// A page for an error the handlers did not turn into one themselves.
pub fn error_page(error: Error) -> Page {
    match error {
        Error::NotFound => message(
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no such token on your account.",
            "/settings/tokens",
            "Back to your tokens",
        ),
        Error::Db(_) | Error::Timeout | Error::Busy(_) => {
            tracing::error!(%error, "settings page unavailable");
            let mut page = message(
                StatusCode::SERVICE_UNAVAILABLE,
                "Temporarily unavailable",
                "AniTrack cannot reach its database right now. Please try again in a moment.",
                "/settings/tokens",
                "Try again",
            );
            page.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(2));
            page
        }
        other => {
            tracing::error!(error = %other, "settings page failed");
            message(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "Please try again.",
                "/settings/tokens",
                "Back to your tokens",
            )
        }
    }
}

fn csrf_refused() -> Page {
    message(
        StatusCode::FORBIDDEN,
        "This form has expired",
        "The form was not sent from this page, or it is too old. Nothing was changed. Reload the page and try again.",
        "/settings/tokens",
        "Reload",
    )
}

fn throttled(call: &Call<'_>) -> Page {
    let wait = call.retry_after().unwrap_or(60);
    let text = format!("Too many sign-in attempts. Wait {wait} seconds, then try again.");
    message(
        StatusCode::TOO_MANY_REQUESTS,
        "Too many attempts",
        &text,
        "/login",
        "Back to sign-in",
    )
}

/// The form fields of a urlencoded body.
pub struct Form(Vec<(String, String)>);

impl Form {
    pub fn parse(body: &[u8]) -> Form {
        Form(
            form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }
}

/// The request's live session, with the cookie value that stands for it.
async fn session<'a>(call: &'a Call<'_>) -> Result<Option<(Session, &'a str)>, Error> {
    let Some(value) = cookies::get(call, SESSION_COOKIE) else {
        return Ok(None);
    };
    Ok(sessions::resume(&call.context().db, value)
        .await?
        .map(|s| (s, value)))
}

fn login_form(
    call: &Call<'_>,
    status: StatusCode,
    email: &str,
    error: Option<&str>,
    notice: Option<&str>,
) -> Page {
    // A fresh double-submit token for the sign-in form; the cookie carries
    // it signed, so a cookie planted by anyone but this server is refused.
    let csrf = random_token();
    let signed = call.context().cookie_key.sign(LOGIN_CSRF_PURPOSE, &csrf);
    let cookie = cookies::set(call, LOGIN_CSRF_COOKIE, &signed, "Strict", None);
    render(
        status,
        &pages::Login {
            csrf_token: &csrf,
            email,
            error,
            notice,
        },
        &[cookie],
    )
}

/// `GET /login`.
pub async fn login_page(call: &Call<'_>) -> Result<Page, Error> {
    if session(call).await?.is_some() {
        return Ok(redirect("/settings/tokens", &[]));
    }
    let notice = call
        .request()
        .uri()
        .query()
        .filter(|q| q.contains("signed_out"))
        .map(|_| "You are signed out.");
    Ok(login_form(call, StatusCode::OK, "", None, notice))
}

/// Whether the sign-in form's token matches a login CSRF cookie this
/// server signed.
fn login_csrf_ok(call: &Call<'_>, form: &Form) -> bool {
    let sent = form.get("csrf_token");
    let signed = cookies::get(call, LOGIN_CSRF_COOKIE).unwrap_or("");
    match call.context().cookie_key.verify(LOGIN_CSRF_PURPOSE, signed) {
        Some(expected) => !sent.is_empty() && same(sent, expected),
        None => false,
    }
}

/// `POST /login`.
pub async fn login(call: &Call<'_>, form: Form) -> Result<Page, Error> {
    if !login_csrf_ok(call, &form) {
        return Ok(csrf_refused());
    }
    let raw_email = form.get("email").trim();
    let password = form.get("password").to_string();
    // Only a well-formed address becomes a throttle key; the attempt still
    // counts against the client address.
    let email = validate::email(raw_email);
    match call.throttle_sign_in(email.as_deref().ok()).await {
        Err(Error::TooManyAttempts) => return Ok(throttled(call)),
        other => other?,
    }
    // What the form shows back: never a control character.
    let shown = if forbidden_character(raw_email, TextKind::Line).is_some() {
        ""
    } else {
        raw_email
    };
    let problem = if raw_email.is_empty() || password.is_empty() {
        Some("Enter your email and password.".to_string())
    } else if let Err(message) = &email {
        Some(message.clone())
    } else if forbidden_character(&password, TextKind::Secret).is_some() {
        Some(validate::control_character_message("password"))
    } else {
        None
    };
    if let Some(error) = problem {
        return Ok(login_form(
            call,
            StatusCode::UNPROCESSABLE_ENTITY,
            shown,
            Some(&error),
            None,
        ));
    }
    let email = email.unwrap_or_default();
    let ctx = call.context();
    let account = match issue::check_credentials(&ctx.db, &ctx.passwords, &email, password).await {
        Ok(account) => account,
        Err(Error::Invalid(_)) => {
            let error = "These credentials do not match our records.";
            return Ok(login_form(
                call,
                StatusCode::UNPROCESSABLE_ENTITY,
                shown,
                Some(error),
                None,
            ));
        }
        Err(other) => return Err(other),
    };
    let value = sessions::start(&ctx.db, account.id).await?;
    let session = cookies::set(
        call,
        SESSION_COOKIE,
        &value,
        "Lax",
        Some(ABSOLUTE.num_seconds()),
    );
    let clear = cookies::set(call, LOGIN_CSRF_COOKIE, "", "Strict", Some(0));
    Ok(redirect("/settings/tokens", &[session, clear]))
}

/// `GET /logout`: a confirmation (signing out changes state, so it is a POST).
pub async fn logout_page(call: &Call<'_>) -> Result<Page, Error> {
    match session(call).await? {
        Some((session, _)) => Ok(render(
            StatusCode::OK,
            &pages::Logout {
                csrf_token: &session.csrf_token,
            },
            &[],
        )),
        None => Ok(redirect("/login", &[])),
    }
}

/// `POST /logout`: ends the session server-side and clears the cookie.
pub async fn logout(call: &Call<'_>, form: Form) -> Result<Page, Error> {
    let clear = cookies::set(call, SESSION_COOKIE, "", "Lax", Some(0));
    let Some((session, value)) = session(call).await? else {
        return Ok(redirect("/login", &[clear]));
    };
    if !same(form.get("csrf_token"), &session.csrf_token) {
        return Ok(csrf_refused());
    }
    sessions::end(&call.context().db, value).await?;
    Ok(redirect("/login?signed_out=1", &[clear]))
}

fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

struct TokensView<'a> {
    created: Option<pages::Created>,
    notice: Option<&'a str>,
    name_input: &'a str,
    name_error: Option<&'a str>,
}

async fn tokens_page(
    call: &Call<'_>,
    session: &Session,
    status: StatusCode,
    view: TokensView<'_>,
) -> Result<Page, Error> {
    let rows = tokens::list(&call.db().await?, session.account.id)
        .await?
        .into_iter()
        .map(|t| pages::TokenRow {
            id: t.id,
            name: t.name,
            created: when(t.created_at),
            last_used: t.last_used_at.map(when).unwrap_or_else(|| "Never".into()),
        })
        .collect();
    let page = pages::Tokens {
        name: &session.account.name,
        email: &session.account.email,
        csrf_token: &session.csrf_token,
        api_access: session.account.api_access,
        tokens: rows,
        created: view.created,
        notice: view.notice,
        name_input: view.name_input,
        name_error: view.name_error,
    };
    Ok(render(status, &page, &[]))
}

/// `GET /settings/tokens`.
pub async fn tokens(call: &Call<'_>) -> Result<Page, Error> {
    let Some((session, _)) = session(call).await? else {
        return Ok(redirect("/login", &[]));
    };
    let notice = call
        .request()
        .uri()
        .query()
        .filter(|q| q.contains("revoked"))
        .map(|_| "Token revoked.");
    tokens_page(
        call,
        &session,
        StatusCode::OK,
        TokensView {
            created: None,
            notice,
            name_input: "",
            name_error: None,
        },
    )
    .await
}

/// `POST /settings/tokens`: creates a token and shows it, once.
pub async fn create_token(call: &Call<'_>, form: Form) -> Result<Page, Error> {
    let Some((session, _)) = session(call).await? else {
        return Ok(redirect("/login", &[]));
    };
    if !same(form.get("csrf_token"), &session.csrf_token) {
        return Ok(csrf_refused());
    }
    if !session.account.api_access {
        return Ok(message(
            StatusCode::FORBIDDEN,
            "API access is not enabled",
            "This account cannot create tokens. Ask an AniTrack operator to enable API access.",
            "/settings/tokens",
            "Back to your tokens",
        ));
    }
    let name = form.get("name").trim();
    let length = name.chars().count();
    let problem = if length == 0 {
        Some("Give the token a name, so you can recognise it later.".to_string())
    } else if forbidden_character(name, TextKind::Line).is_some() {
        Some("The name must not contain control characters.".to_string())
    } else if length > issue::DEVICE_NAME_MAX {
        Some(format!(
            "The name must not be longer than {} characters.",
            issue::DEVICE_NAME_MAX
        ))
    } else {
        None
    };
    if let Some(error) = problem {
        let shown = if forbidden_character(name, TextKind::Line).is_some() {
            ""
        } else {
            name
        };
        let view = TokensView {
            created: None,
            notice: None,
            name_input: shown,
            name_error: Some(&error),
        };
        return tokens_page(call, &session, StatusCode::UNPROCESSABLE_ENTITY, view).await;
    }
    match call.throttle_token_creation(session.account.id).await {
        Err(Error::TooManyAttempts) => {
            let wait = call.retry_after().unwrap_or(60);
            let text = format!(
                "You have created {} tokens in the last hour, the most allowed. \
                 Wait {} minutes, then try again.",
                anitrack_spec::limits::TOKEN_CREATIONS_PER_HOUR,
                (wait + 59) / 60
            );
            return Ok(message(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many new tokens",
                &text,
                "/settings/tokens",
                "Back to your tokens",
            ));
        }
        other => other?,
    }
    let (token, plain) = match issue::mint_for(&call.context().db, session.account.id, name).await {
        Ok(minted) => minted,
        Err(Error::Invalid(_)) => {
            let error = issue::too_many_tokens();
            let view = TokensView {
                created: None,
                notice: None,
                name_input: name,
                name_error: Some(&error),
            };
            return tokens_page(call, &session, StatusCode::UNPROCESSABLE_ENTITY, view).await;
        }
        Err(other) => return Err(other),
    };
    let created = pages::Created {
        name: token.name,
        token: plain,
    };
    let view = TokensView {
        created: Some(created),
        notice: None,
        name_input: "",
        name_error: None,
    };
    tokens_page(call, &session, StatusCode::CREATED, view).await
}

async fn own_token(
    call: &Call<'_>,
    session: &Session,
    token_id: Option<i64>,
) -> Result<tokens::Token, Error> {
    let token_id = token_id.ok_or(Error::NotFound)?;
    tokens::find(&call.db().await?, session.account.id, token_id)
        .await?
        .ok_or(Error::NotFound)
}

/// `GET /settings/tokens/{id}/revoke`: the confirmation step.
pub async fn revoke_page(call: &Call<'_>, token_id: Option<i64>) -> Result<Page, Error> {
    let Some((session, _)) = session(call).await? else {
        return Ok(redirect("/login", &[]));
    };
    let token = own_token(call, &session, token_id).await?;
    let page = pages::Revoke {
        token_id: token.id,
        token_name: &token.name,
        csrf_token: &session.csrf_token,
    };
    Ok(render(StatusCode::OK, &page, &[]))
}

/// `POST /settings/tokens/{id}/revoke`.
pub async fn revoke(call: &Call<'_>, token_id: Option<i64>, form: Form) -> Result<Page, Error> {
    let Some((session, _)) = session(call).await? else {
        return Ok(redirect("/login", &[]));
    };
    if !same(form.get("csrf_token"), &session.csrf_token) {
        return Ok(csrf_refused());
    }
    let token = own_token(call, &session, token_id).await?;
    tokens::revoke(&call.db().await?, session.account.id, token.id).await?;
    Ok(redirect("/settings/tokens?revoked=1", &[]))
}

/// `GET /assets/{file}`: the page's stylesheet and script.
pub fn asset(file: &str) -> Result<Page, Error> {
    let (body, content_type) = match file {
        "settings.css" => (CSS, "text/css; charset=utf-8"),
        "settings.js" => (JS, "text/javascript; charset=utf-8"),
        _ => return Err(Error::NotFound),
    };
    let mut response = Response::new(Body::from(body));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode_and_keep_the_last_value() {
        let form = Form::parse(b"email=a%40b.c&name=My+tool&name=Other&csrf_token=x%2By");
        assert_eq!(form.get("email"), "a@b.c");
        assert_eq!(form.get("name"), "Other");
        assert_eq!(form.get("csrf_token"), "x+y");
        assert_eq!(form.get("missing"), "");
    }

    #[test]
    fn tokens_compare_exactly() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
        assert!(!same("", "a"));
    }

    #[test]
    fn pages_escape_what_users_typed() {
        let page = pages::Login {
            csrf_token: "t",
            email: "<script>x</script>",
            error: None,
            notice: None,
        };
        let html = askama::Template::render(&page).unwrap();
        assert!(
            html.contains("&#60;script&#62;") || html.contains("&lt;script&gt;"),
            "{html}"
        );
        assert!(!html.contains("<script>x"));
    }
}
