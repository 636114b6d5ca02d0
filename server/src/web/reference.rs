//! The API reference, for people and tools: `GET /api/v1/openapi.json`
//! serves the committed `spec/openapi.json` byte for byte, and `GET /docs`
//! is a page on which Redoc, vendored in `server/assets/docs/` by `cargo
//! xtask docs vendor` (checksums checked by `cargo xtask conformance`),
//! renders that same document. The page holds no description of any
//! operation: whatever the reference shows comes from the document.
//!
//! Neither URL is an operation of the published document, like `/health`:
//! the document describes the API a client calls with its token, and an
//! operation that returns the document itself would give every generated
//! client a method returning an untyped blob, show up as an endpoint in the
//! reference, and need a `security` exception and rate-limit headers it
//! does not have. The document's description names both URLs instead, and
//! the conformance suite's `docs` area keeps them served. Both need no
//! token and count against no rate limit: they are the same bytes for
//! everyone.

use std::sync::LazyLock;

use bytes::Bytes;
use dropshot::Body;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use sha2::{Digest as _, Sha256};

use super::respond::{Page, secure_html};
use crate::list::conditions::not_modified;

/// The committed document, embedded at compile time from the file itself
/// (cargo rebuilds when it changes), never re-serialized.
pub const DOCUMENT: &[u8] = include_bytes!("../../../spec/openapi.json");

/// Its strong `ETag`: digits of its SHA-256, so every server built from the
/// same document gives the same tag.
static DOCUMENT_ETAG: LazyLock<HeaderValue> = LazyLock::new(|| {
    let digest = Sha256::digest(DOCUMENT);
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    HeaderValue::from_str(&format!("\"{hex}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
});

/// Cached for five minutes, then revalidated with `If-None-Match`; public:
/// the document is the same for everyone.
const DOCUMENT_CACHE: &str = "public, max-age=300";

const PAGE: &str = include_str!("../../assets/docs.html");

/// What the page may load: its own scripts and the document, from this
/// origin only. Redoc styles with inline `<style>` (styled-components), draws
/// small images as `data:` URLs and searches in a worker it starts from a
/// `blob:`; nothing else is allowed, so its one outside reference (the
/// Redocly logo beside its credit line) is never fetched, and it hides it.
const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                        img-src 'self' data:; connect-src 'self'; worker-src blob:; \
                        frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

const REDOC: &str = include_str!("../../assets/docs/redoc.standalone.js");
const REDOC_NOTICES: &str = include_str!("../../assets/docs/redoc.standalone.js.LICENSE.txt");
const REDOC_LICENSE: &str = include_str!("../../assets/docs/LICENSE");

/// `GET /api/v1/openapi.json`: the document, or 304 while `If-None-Match`
/// holds its `ETag`.
pub fn document(request: &HeaderMap) -> Response<Body> {
    let etag = DOCUMENT_ETAG.clone();
    let if_none_match = request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(", ");
    let current = etag.to_str().unwrap_or_default();
    let unchanged = !if_none_match.is_empty() && not_modified(Some(&if_none_match), current);
    let mut response = if unchanged {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        response
    } else {
        let mut response = Response::new(Body::from(Bytes::from_static(DOCUMENT)));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    };
    let headers = response.headers_mut();
    headers.insert(header::ETAG, etag);
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(DOCUMENT_CACHE),
    );
    // Browser-based tools on other sites (editors, generators) may read it:
    // it is public and the request carries no credentials.
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

/// `GET /docs`: the page that loads the renderer.
pub fn page() -> Page {
    secure_html(
        StatusCode::OK,
        Body::from(PAGE),
        PAGE_CSP,
        "public, max-age=300",
    )
}

/// The renderer and its licences under `/assets/`: (body, content type).
pub(super) fn asset(file: &str) -> Option<(&'static str, &'static str)> {
    match file {
        "redoc.standalone.js" => Some((REDOC, "text/javascript; charset=utf-8")),
        // The bundle's first line points here for its parts' licences.
        "redoc.standalone.js.LICENSE.txt" => Some((REDOC_NOTICES, "text/plain; charset=utf-8")),
        "redoc.LICENSE.txt" => Some((REDOC_LICENSE, "text/plain; charset=utf-8")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(if_none_match: &[&str]) -> Response<Body> {
        let mut headers = HeaderMap::new();
        for value in if_none_match {
            headers.append(header::IF_NONE_MATCH, value.parse().unwrap());
        }
        document(&headers)
    }

    #[test]
    fn the_document_has_a_strong_etag_and_honours_if_none_match() {
        let fresh = get(&[]);
        assert_eq!(fresh.status(), StatusCode::OK);
        let etag = fresh.headers()[header::ETAG].to_str().unwrap().to_string();
        assert!(
            etag.len() == 34 && etag.starts_with('"') && etag.ends_with('"'),
            "{etag}"
        );
        assert_eq!(fresh.headers()[header::CONTENT_TYPE], "application/json");
        for matching in [
            vec![etag.as_str()],
            vec!["*"],
            vec!["\"other\"", etag.as_str()],
        ] {
            let response = get(&matching);
            assert_eq!(response.status(), StatusCode::NOT_MODIFIED, "{matching:?}");
            assert_eq!(response.headers()[header::ETAG], etag.as_str());
        }
        let weak = format!("W/{etag}");
        assert_eq!(get(&[&weak]).status(), StatusCode::NOT_MODIFIED);
        for other in ["\"other\"", "garbage", ""] {
            assert_eq!(get(&[other]).status(), StatusCode::OK, "{other:?}");
        }
    }

    #[test]
    fn the_page_loads_the_renderer_and_the_document_from_this_origin_only() {
        assert!(PAGE.contains(r#"<script src="/assets/redoc.standalone.js">"#));
        assert!(PAGE.contains(r#"spec-url="/api/v1/openapi.json""#));
        assert!(!PAGE.contains("operationId") && !PAGE.contains("/api/v1/list"));
        assert!(!PAGE_CSP.contains("http") && !PAGE_CSP.contains("unsafe-eval"));
        assert!(asset("redoc.standalone.js").is_some());
    }
}
