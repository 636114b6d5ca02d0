//! The settings page in a real browser: headless Chromium (Debian's
//! `chromium` and `chromium-driver`) driven over WebDriver (fantoccini).
//! Screenshots of each page are written to `target/screenshots/` for review.
//! The API reference's page has its browser test in `docs.rs`, on the same
//! [`Browser`].

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anitrack_conformance::harness::{Catalog, PASSWORD, free_port, workspace_root};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::support::{TestEnv, login_form, user_status};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver on a free port and a browser session through it; both end
/// on drop (`Browser::close` ends the session cleanly).
pub(crate) struct Browser {
    pub(crate) client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub(crate) async fn start() -> Browser {
        for binary in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                std::path::Path::new(binary).exists(),
                "{binary} is missing: install Debian's packages with `apt-get install chromium chromium-driver` \
                 (.ci/run does this)"
            );
        }
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver");
        let profile = tempfile::tempdir().expect("profile dir");
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update", "--no-first-run",
                    "--disable-sync", "--disable-quic", "--window-size=1100,900",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = loop {
            match ClientBuilder::rustls()
                .expect("tls")
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => break client,
                Err(error) if Instant::now() < deadline => {
                    let _ = error;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(error) => {
                    panic!("cannot start headless Chromium through chromedriver: {error}")
                }
            }
        };
        Browser {
            client,
            driver,
            _profile: profile,
        }
    }

    /// Runs `script` in every page this browser opens from now on, before
    /// the page's own scripts (Chrome DevTools' `Page.addScriptToEvaluateOnNewDocument`,
    /// through chromedriver): to watch what a page does from its start.
    pub(crate) async fn on_every_page(&self, script: &str) {
        self.client
            .issue_cmd(DevTools {
                cmd: "Page.addScriptToEvaluateOnNewDocument",
                params: json!({ "source": script }),
            })
            .await
            .expect("Page.addScriptToEvaluateOnNewDocument");
    }

    pub(crate) async fn screenshot(&self, name: &str) {
        let dir: PathBuf = workspace_root().join("target").join("screenshots");
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("write screenshot");
    }

    /// Waits (up to 15 s: the machine may be busy) for an element to appear.
    async fn element(&self, id: &str) -> fantoccini::elements::Element {
        let found = self
            .client
            .wait()
            .at_most(Duration::from_secs(15))
            .for_element(Locator::Id(id))
            .await;
        match found {
            Ok(element) => element,
            Err(error) => panic!("#{id} did not appear on {}: {error}", self.path().await),
        }
    }

    async fn text(&self, id: &str) -> String {
        self.element(id).await.text().await.expect("text")
    }

    async fn fill(&self, id: &str, value: &str) {
        let field = self.element(id).await;
        field.clear().await.expect("clear");
        field.send_keys(value).await.expect("type");
    }

    async fn click(&self, id: &str) {
        self.element(id).await.click().await.expect("click");
    }

    /// Waits for the browser to arrive at a path ending with `suffix` (a
    /// click's navigation may still be under way when WebDriver returns).
    async fn arrive(&self, suffix: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let now = self.path().await;
            if now.ends_with(suffix) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "expected to arrive at {suffix}, still at {now}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn path(&self) -> String {
        self.client
            .current_url()
            .await
            .expect("url")
            .path()
            .to_string()
    }

    async fn sign_in(&self, base: &str, email: &str, password: &str) {
        self.client
            .goto(&format!("{base}/login"))
            .await
            .expect("goto /login");
        self.fill("email", email).await;
        self.fill("password", password).await;
        self.click("sign-in").await;
    }

    pub(crate) async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// A Chrome DevTools command, sent through chromedriver's
/// `goog/cdp/execute` extension.
#[derive(Debug)]
struct DevTools {
    cmd: &'static str,
    params: serde_json::Value,
}

impl fantoccini::wd::WebDriverCompatibleCommand for DevTools {
    fn endpoint(
        &self,
        base_url: &reqwest::Url,
        session_id: Option<&str>,
    ) -> Result<reqwest::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &reqwest::Url) -> (http::Method, Option<String>) {
        let body = json!({ "cmd": self.cmd, "params": self.params });
        (http::Method::POST, Some(body.to_string()))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
    }
}

#[tokio::test]
async fn a_person_signs_in_creates_a_token_uses_it_and_revokes_it() {
    let env = TestEnv::start_with(Catalog::Empty).await;
    env.create_user("browser@example.test", "Browser User", true)
        .await;
    let base = env.server.base_url();
    let browser = Browser::start().await;

    browser
        .client
        .goto(&format!("{base}/settings/tokens"))
        .await
        .expect("goto");
    browser.arrive("/login").await;
    browser.screenshot("login").await;

    browser
        .sign_in(&base, "browser@example.test", PASSWORD)
        .await;
    browser.arrive("/settings/tokens").await;
    assert_eq!(browser.text("no-tokens").await, "No active tokens.");
    browser.screenshot("tokens-empty").await;

    browser.fill("token-name", "My Integration").await;
    browser.click("create-token").await;
    let token = browser.text("new-token").await;
    assert!(token.starts_with("atk_") && token.len() == 40, "{token:?}");
    let page = browser.client.source().await.expect("source");
    assert!(
        page.contains("shown only once"),
        "the page warns it will not be shown again"
    );
    browser.screenshot("token-created").await;
    assert_eq!(
        user_status(&env, &token).await,
        200,
        "the new token works on the API"
    );

    // Shown once: reloading the list does not show it again.
    browser
        .client
        .goto(&format!("{base}/settings/tokens"))
        .await
        .expect("goto");
    assert!(
        !browser
            .client
            .source()
            .await
            .expect("source")
            .contains(&token)
    );
    let listed = browser
        .client
        .find(Locator::Css("#tokens tbody tr td"))
        .await
        .expect("row")
        .text()
        .await
        .expect("text");
    assert_eq!(listed, "My Integration");

    // Revoke, with a confirmation step.
    browser
        .client
        .find(Locator::LinkText("Revoke"))
        .await
        .expect("revoke link")
        .click()
        .await
        .expect("click");
    browser.arrive("/revoke").await;
    browser.screenshot("revoke-confirm").await;
    browser.click("confirm-revoke").await;
    browser.arrive("/settings/tokens").await;
    assert_eq!(browser.text("no-tokens").await, "No active tokens.");
    assert_eq!(
        user_status(&env, &token).await,
        401,
        "the revoked token is refused by the API"
    );

    // Sign out ends the session on the server.
    let cookie = browser
        .client
        .get_named_cookie("__Host-anitrack_session")
        .await
        .expect("session cookie");
    assert_eq!(cookie.http_only(), Some(true));
    assert_eq!(cookie.secure(), Some(true));
    assert_eq!(format!("{:?}", cookie.same_site()), "Some(Lax)");
    let session = format!("__Host-anitrack_session={}", cookie.value());
    browser.click("sign-out").await;
    browser.arrive("/login").await;
    let replayed = env
        .http
        .get(env.url("/settings/tokens"))
        .header("cookie", session)
        .send()
        .await
        .expect("send");
    // reqwest follows the redirect to the sign-in page.
    assert_eq!(
        replayed.url().path(),
        "/login",
        "the old session cookie no longer works"
    );
    browser.close().await;
}

#[tokio::test]
async fn wrong_passwords_are_refused_and_sign_in_is_throttled() {
    let env = TestEnv::start_with(Catalog::Empty).await;
    env.create_user("guarded@example.test", "Guarded", true)
        .await;
    let base = env.server.base_url();
    let browser = Browser::start().await;

    browser
        .sign_in(&base, "guarded@example.test", "not the password")
        .await;
    browser.arrive("/login").await;
    assert_eq!(
        browser.text("login-error").await,
        "These credentials do not match our records."
    );
    browser.screenshot("login-wrong-password").await;

    // Five attempts a minute per email (shared with POST /auth/token; the
    // exact count is pinned over HTTP below). Wait for each answer before the
    // next attempt, so no navigation is cut short.
    let mut throttled_at = None;
    for attempt in 2..=6 {
        let password = if attempt == 6 {
            PASSWORD
        } else {
            "still wrong"
        };
        browser
            .sign_in(&base, "guarded@example.test", password)
            .await;
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let page = browser.client.source().await.expect("source");
            if page.contains("Too many attempts") {
                throttled_at = Some(attempt);
                break;
            }
            if page.contains("These credentials do not match") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "attempt {attempt}: no answer on {}",
                browser.path().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if throttled_at.is_some() {
            break;
        }
    }
    assert!(throttled_at.is_some(), "sign-in was never throttled");
    assert!(
        browser.text("message-text").await.contains("Wait"),
        "says how long to wait"
    );
    browser.screenshot("login-throttled").await;
    browser.close().await;
}

#[tokio::test]
async fn a_forged_form_is_refused_with_a_clear_page() {
    let env = TestEnv::start_with(Catalog::Empty).await;
    env.create_user("forged@example.test", "Forged", true).await;
    let base = env.server.base_url();
    let browser = Browser::start().await;
    browser
        .sign_in(&base, "forged@example.test", PASSWORD)
        .await;
    browser.arrive("/settings/tokens").await;

    // Tamper with the form's CSRF token, as a cross-site post would carry none.
    browser
        .client
        .execute(
            "document.querySelector('form.create input[name=csrf_token]').value = 'forged';",
            vec![],
        )
        .await
        .expect("tamper");
    browser.fill("token-name", "Should not exist").await;
    browser.click("create-token").await;
    assert_eq!(browser.text("message-title").await, "This form has expired");
    browser.screenshot("csrf-refused").await;
    browser
        .client
        .goto(&format!("{base}/settings/tokens"))
        .await
        .expect("goto");
    assert_eq!(
        browser.text("no-tokens").await,
        "No active tokens.",
        "nothing was created"
    );

    // A post from another site has the session cookie withheld (SameSite=Lax)
    // and no token: refused too.
    let response = env
        .http
        .post(env.url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "email=forged%40example.test&password={}",
            PASSWORD.replace(' ', "+")
        ))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status().as_u16(), 403);
    browser.close().await;
}

#[tokio::test]
async fn an_account_without_api_access_sees_why_and_cannot_create() {
    let env = TestEnv::start_with(Catalog::Empty).await;
    env.create_user("noaccess@example.test", "No Access", false)
        .await;
    let base = env.server.base_url();
    let browser = Browser::start().await;
    browser
        .sign_in(&base, "noaccess@example.test", PASSWORD)
        .await;
    assert!(
        browser
            .text("no-api-access")
            .await
            .contains("API access is not enabled")
    );
    assert!(
        browser
            .client
            .find(Locator::Id("create-token"))
            .await
            .is_err(),
        "no create button"
    );
    browser.screenshot("tokens-no-api-access").await;
    browser.close().await;
}

#[tokio::test]
async fn sessions_end_when_idle_and_at_their_absolute_expiry() {
    let env = TestEnv::start_with(Catalog::Empty).await;
    env.create_user("expiry@example.test", "Expiry", true).await;
    let base = env.server.base_url();
    let browser = Browser::start().await;
    for expire in [
        // Idle for longer than the 2 h idle expiry...
        "UPDATE web_sessions SET last_seen_at = now() - interval '2 hours 1 minute'",
        // ...or past the absolute expiry, however recently used.
        "UPDATE web_sessions SET expires_at = now() - interval '1 second'",
    ] {
        browser
            .sign_in(&base, "expiry@example.test", PASSWORD)
            .await;
        browser.arrive("/settings/tokens").await;
        env.psql(expire);
        browser
            .client
            .goto(&format!("{base}/settings/tokens"))
            .await
            .expect("goto");
        browser.arrive("/login").await;
        env.psql("DELETE FROM web_sessions");
    }
    browser.close().await;
}

#[tokio::test]
async fn sign_in_shares_the_issuance_counters_exactly() {
    let env = TestEnv::start_with(Catalog::Empty).await;
    env.create_user("shared.counter@example.test", "Shared", true)
        .await;
    let base = env.server.base_url();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    // Three API attempts for the email...
    for _ in 0..3 {
        let response = http
            .post(format!("{base}/api/v1/auth/token"))
            .json(&json!({"email": "shared.counter@example.test", "password": "wrong", "device_name": "x"}))
            .send()
            .await
            .expect("send");
        assert_eq!(response.status().as_u16(), 422);
    }
    // ...then two sign-ins, and the sixth attempt in all is refused, even
    // with the right password.
    let mut statuses = Vec::new();
    for password in ["wrong", "wrong", PASSWORD] {
        let (token, cookie) = login_form(&http, &base).await;
        let body = format!(
            "csrf_token={token}&email=shared.counter%40example.test&password={}",
            password.replace(' ', "+")
        );
        let response = http
            .post(format!("{base}/login"))
            .header("cookie", cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("POST /login");
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [422, 422, 429]);
}
