//! How the settings pages answer: HTML with its security headers, redirects,
//! message pages (errors included), and the static files.

use dropshot::Body;
use http::{HeaderValue, Response, StatusCode, header};

use super::pages;
use crate::error::Error;
use crate::request::Call;

const CSS: &str = include_str!("../../assets/settings.css");
const JS: &str = include_str!("../../assets/settings.js");

/// A page, or a redirect.
pub type Page = Response<Body>;

/// What a settings page may load: its own stylesheet and script, nothing
/// inline, nothing from elsewhere; forms post to this origin only.
const SETTINGS_CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; \
                            form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub(super) fn html(status: StatusCode, body: String, cookies: &[String]) -> Page {
    // Pages may show a token: never cache them.
    let mut response = secure_html(status, Body::from(body), SETTINGS_CSP, "no-store");
    let headers = response.headers_mut();
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(cookie) {
            headers.append(header::SET_COOKIE, value);
        }
    }
    response
}

/// An HTML page with the headers every page carries: its
/// Content-Security-Policy `csp`, its `Cache-Control` `cache`, no framing,
/// no referrer sent on, no content sniffing.
pub(super) fn secure_html(
    status: StatusCode,
    body: Body,
    csp: &'static str,
    cache: &'static str,
) -> Page {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
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
    response
}

pub(super) fn render(
    status: StatusCode,
    template: &impl askama::Template,
    cookies: &[String],
) -> Page {
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

pub(super) fn redirect(to: &str, cookies: &[String]) -> Page {
    let mut response = html(StatusCode::SEE_OTHER, String::new(), cookies);
    if let Ok(location) = HeaderValue::from_str(to) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

pub(super) fn message(
    status: StatusCode,
    title: &str,
    text: &str,
    link: &str,
    link_text: &str,
) -> Page {
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

pub(super) fn csrf_refused() -> Page {
    message(
        StatusCode::FORBIDDEN,
        "This form has expired",
        "The form was not sent from this page, or it is too old. Nothing was changed. Reload the page and try again.",
        "/settings/tokens",
        "Reload",
    )
}

pub(super) fn throttled(call: &Call<'_>) -> Page {
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

/// `GET /assets/{file}`: the settings page's stylesheet and script, and
/// the API reference's renderer with its licences.
pub fn asset(file: &str) -> Result<Page, Error> {
    let (body, content_type) = match file {
        "settings.css" => (CSS, "text/css; charset=utf-8"),
        "settings.js" => (JS, "text/javascript; charset=utf-8"),
        other => super::reference::asset(other).ok_or(Error::NotFound)?,
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
