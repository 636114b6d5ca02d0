//! The API reference, for people and tools: `GET /api/v1/openapi.json` is
//! the committed `spec/openapi.json` byte for byte, with a strong `ETag`;
//! `/docs` renders that same document with the vendored Redoc, in headless
//! Chromium, every operation of it, loading nothing from another origin.
//! Screenshots: `target/screenshots/docs*.png`.

use std::time::{Duration, Instant};

use anitrack_conformance::harness::{Catalog, workspace_root};
use fantoccini::Locator;
use serde_json::{Value, json};

use crate::browser::Browser;
use crate::support::TestEnv;

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

fn committed_document() -> Vec<u8> {
    std::fs::read(workspace_root().join("spec/openapi.json")).expect("spec/openapi.json")
}

/// Every operation of the committed document: (operationId, summary,
/// method, path).
fn operations() -> Vec<(String, String, String, String)> {
    let document: Value = serde_json::from_slice(&committed_document()).expect("JSON");
    let mut out = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            out.push((
                operation["operationId"].as_str().expect("id").to_string(),
                operation["summary"].as_str().expect("summary").to_string(),
                method.clone(),
                path.clone(),
            ));
        }
    }
    out
}

#[tokio::test]
async fn the_document_is_the_committed_file_byte_for_byte_with_a_strong_etag() {
    let env = TestEnv::start_with(Catalog::Empty).await;
    let url = env.url("/api/v1/openapi.json");
    let response = env.http.get(&url).send().await.expect("send");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(header(&response, "content-type"), "application/json");
    assert_eq!(header(&response, "cache-control"), "public, max-age=300");
    assert_eq!(header(&response, "x-content-type-options"), "nosniff");
    assert_eq!(header(&response, "access-control-allow-origin"), "*");
    let etag = header(&response, "etag");
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && etag.len() > 2,
        "a strong ETag: {etag:?}"
    );
    let body = response.bytes().await.expect("body");
    assert!(
        body.as_ref() == committed_document().as_slice(),
        "GET /api/v1/openapi.json differs from spec/openapi.json ({} bytes served, {} on disk)",
        body.len(),
        committed_document().len()
    );

    // Revalidation: the same tag (strong or, as If-None-Match compares,
    // weak) is a 304 without a body; another tag gets the document.
    for (if_none_match, status) in [
        (etag.clone(), 304),
        (format!("W/{etag}"), 304),
        (format!("\"stale\", {etag}"), 304),
        ("*".to_string(), 304),
        ("\"stale\"".to_string(), 200),
    ] {
        let response = env
            .http
            .get(&url)
            .header("if-none-match", &if_none_match)
            .send()
            .await
            .expect("send");
        assert_eq!(response.status().as_u16(), status, "{if_none_match}");
        assert_eq!(header(&response, "etag"), etag, "{if_none_match}");
        let body = response.bytes().await.expect("body");
        if status == 304 {
            assert!(body.is_empty(), "{if_none_match}: a 304 has no body");
        } else {
            assert_eq!(body.len(), committed_document().len());
        }
    }

    // No token needed, and whatever credentials come along change nothing.
    let with_token = env
        .http
        .get(&url)
        .bearer_auth("atk_not_a_real_token")
        .send()
        .await
        .expect("send");
    assert_eq!(with_token.status().as_u16(), 200);
    assert_eq!(header(&with_token, "etag"), etag);

    // Not an operation of the document it serves (the decision in
    // server/src/web/reference.rs), and its errors are the contract's JSON.
    let document: Value = serde_json::from_slice(&body).expect("the document is JSON");
    assert!(
        document["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3."))
    );
    assert!(document["paths"].get("/api/v1/openapi.json").is_none());
    let description = document["info"]["description"]
        .as_str()
        .expect("description");
    assert!(
        description.contains("/api/v1/openapi.json") && description.contains("/docs"),
        "the document names where it is served"
    );
    let post = env.http.post(&url).send().await.expect("send");
    assert_eq!(post.status().as_u16(), 405);
    let refusal: Value = post.json().await.expect("a JSON error");
    assert_eq!(refusal["message"], "Method Not Allowed");
}

#[tokio::test]
async fn the_reference_page_and_its_renderer_come_from_this_origin() {
    let env = TestEnv::start_with(Catalog::Empty).await;
    for path in ["/docs", "/docs/"] {
        let response = env.http.get(env.url(path)).send().await.expect("send");
        assert_eq!(response.status().as_u16(), 200, "{path}");
        assert_eq!(
            header(&response, "content-type"),
            "text/html; charset=utf-8"
        );
        let csp = header(&response, "content-security-policy");
        assert!(csp.starts_with("default-src 'none';"), "{csp}");
        assert!(
            !csp.contains("http") && !csp.contains('*') && !csp.contains("unsafe-eval"),
            "no other origin, no eval: {csp}"
        );
        assert_eq!(header(&response, "x-frame-options"), "DENY");
        let page = response.text().await.expect("page");
        assert!(page.contains(r#"<script src="/assets/redoc.standalone.js">"#));
        assert!(page.contains(r#"spec-url="/api/v1/openapi.json""#));
    }
    let vendored = workspace_root().join("server/assets/docs");
    for (file, content_type, on_disk) in [
        (
            "redoc.standalone.js",
            "text/javascript; charset=utf-8",
            "redoc.standalone.js",
        ),
        (
            "redoc.standalone.js.LICENSE.txt",
            "text/plain; charset=utf-8",
            "redoc.standalone.js.LICENSE.txt",
        ),
        ("redoc.LICENSE.txt", "text/plain; charset=utf-8", "LICENSE"),
    ] {
        let response = env
            .http
            .get(env.url(&format!("/assets/{file}")))
            .send()
            .await
            .expect("send");
        assert_eq!(response.status().as_u16(), 200, "{file}");
        assert_eq!(header(&response, "content-type"), content_type, "{file}");
        let body = response.bytes().await.expect("body");
        let expected = std::fs::read(vendored.join(on_disk)).expect("vendored file");
        assert!(
            body.as_ref() == expected.as_slice(),
            "{file} is served as vendored"
        );
    }
}

/// Waits (up to `seconds`: the machine may be busy) until `script`
/// returns true in the page.
async fn until(browser: &Browser, script: &str, seconds: u64, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        let done = browser
            .client
            .execute(script, vec![])
            .await
            .expect("script");
        if done == json!(true) {
            return;
        }
        assert!(Instant::now() < deadline, "{what} within {seconds} s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn the_reference_renders_every_operation_of_the_document_in_chromium() {
    let env = TestEnv::start_with(Catalog::Empty).await;
    let base = env.server.base_url();
    let operations = operations();
    assert!(operations.len() >= 14, "{} operations", operations.len());
    let browser = Browser::start().await;
    // Wide enough for Redoc's three panels (menu, text, examples).
    browser
        .client
        .set_window_size(1440, 1000)
        .await
        .expect("window size");
    // Every attempt the page makes that its CSP refuses, from its first
    // script on.
    browser
        .on_every_page(
            "window.refused = [];
             document.addEventListener('securitypolicyviolation', e =>
                 window.refused.push(e.effectiveDirective + ' ' + e.blockedURI));",
        )
        .await;
    browser
        .client
        .goto(&format!("{base}/docs"))
        .await
        .expect("goto /docs");

    // Redoc fetches /api/v1/openapi.json and draws a section per operation.
    until(
        &browser,
        &format!(
            "return document.querySelectorAll('[data-section-id*=\"operation/\"]').length >= {};",
            operations.len()
        ),
        30,
        "every operation's section is drawn",
    )
    .await;
    let ids: Vec<&str> = operations.iter().map(|(id, ..)| id.as_str()).collect();
    let drawn = browser
        .client
        .execute(
            "return arguments[0].map(id => {
                 const section = document.querySelector(`[data-section-id$=\"operation/${id}\"]`);
                 if (!section) return null;
                 const title = section.querySelector('h2');
                 return { title: title ? title.textContent.trim() : null, text: section.textContent };
             });",
            vec![json!(ids)],
        )
        .await
        .expect("read the sections");
    let drawn = drawn.as_array().expect("array");
    for ((id, summary, method, path), section) in operations.iter().zip(drawn) {
        assert!(
            section.is_object(),
            "{id} ({} {path}) is not drawn",
            method.to_uppercase()
        );
        assert_eq!(section["title"], json!(summary), "{id}'s heading");
        let text = section["text"].as_str().unwrap_or_default();
        assert!(text.contains(path.as_str()), "{id}'s section shows {path}");
    }
    // The menu lists them too, by summary.
    let menu = browser
        .client
        .find(Locator::Css(".menu-content"))
        .await
        .expect("the menu")
        .html(false)
        .await
        .expect("menu html");
    for (id, summary, ..) in &operations {
        assert!(
            menu.contains(&format!("operation/{id}\"")),
            "{id} is in the menu"
        );
        assert!(menu.contains(summary.as_str()), "{summary} is in the menu");
    }
    browser.screenshot("docs").await;

    // Everything the page loaded came from this server, and the CSP
    // refused one thing only: the Redocly logo beside Redoc's credit line,
    // which Redoc then hides. A renderer that reaches out for anything else
    // (fonts, telemetry, a CDN) fails here.
    let seen = browser
        .client
        .execute(
            "return { origin: location.origin, refused: window.refused,
                      loaded: performance.getEntriesByType('resource').map(e => e.name) };",
            vec![],
        )
        .await
        .expect("what the page loaded");
    let origin = seen["origin"].as_str().expect("origin").to_string();
    let refused: Vec<String> = serde_json::from_value(seen["refused"].clone()).expect("refused");
    assert_eq!(
        refused,
        ["img-src https://cdn.redoc.ly/redoc/logo-mini.svg"],
        "what the CSP refused"
    );
    let loaded: Vec<String> = serde_json::from_value(seen["loaded"].clone()).expect("loaded");
    for wanted in ["/assets/redoc.standalone.js", "/api/v1/openapi.json"] {
        assert!(
            loaded.contains(&format!("{origin}{wanted}")),
            "{wanted} in {loaded:?}"
        );
    }
    for resource in &loaded {
        assert!(
            resource.starts_with(&format!("{origin}/"))
                || refused.iter().any(|r| r.ends_with(resource.as_str())),
            "{resource} is not from {origin}"
        );
    }

    // An operation's link (the menu's, or one shared) opens at it.
    browser
        .client
        .goto(&format!("{base}/docs#tag/list/operation/list_changes"))
        .await
        .expect("goto an operation");
    until(
        &browser,
        "const s = document.querySelector('[data-section-id=\"tag/list/operation/list_changes\"]');
         return !!s && Math.abs(s.getBoundingClientRect().top) < 200;",
        30,
        "the page opens at GET /list/changes",
    )
    .await;
    browser.screenshot("docs-operation").await;

    // Search runs in a worker the CSP allows (blob:), and finds operations.
    let search = browser
        .client
        .find(Locator::Css("input.search-input"))
        .await
        .expect("the search box");
    search.send_keys("changes").await.expect("type");
    until(
        &browser,
        "return Array.from(document.querySelectorAll('[data-role=\"search:results\"]'))
             .some(r => r.textContent.includes('Follow the changes to your list'));",
        15,
        "search finds GET /list/changes",
    )
    .await;
    browser.screenshot("docs-search").await;
    browser.close().await;
}
