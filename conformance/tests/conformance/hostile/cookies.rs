//! Cookies as the OWASP cheat sheets ask: `__Host-` names, `Secure` unless
//! the operator opts out for plain-HTTP development, and a sign-in CSRF
//! cookie that only this server can make.

use anitrack_conformance::harness::Catalog;

use crate::support::{PASSWORD, TestEnv, login_form, no_redirects, web_sign_in};

fn set_cookies(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(String::from)
        .collect()
}

fn attributes(cookie: &str) -> Vec<String> {
    cookie
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_string())
        .collect()
}

#[tokio::test]
async fn cookies_are_host_prefixed_secure_and_http_only() {
    let env = TestEnv::start_with(Catalog::Empty).await;
    env.create_user("cookie@example.test", "Cookie", true).await;
    let http = no_redirects();
    let base = env.server.base_url();
    let form = http
        .get(format!("{base}/login"))
        .send()
        .await
        .expect("GET /login");
    let csrf = set_cookies(&form).pop().expect("a cookie");
    assert!(csrf.starts_with("__Host-anitrack_login_csrf="), "{csrf}");
    for attribute in ["Path=/", "HttpOnly", "SameSite=Strict", "Secure"] {
        assert!(
            attributes(&csrf).iter().any(|a| a == attribute),
            "{attribute}: {csrf}"
        );
    }
    assert!(!csrf.contains("Domain="), "a __Host- cookie has no Domain");
    let signed_in = web_sign_in(&http, &base, "cookie@example.test", PASSWORD, "127.0.0.1").await;
    assert_eq!(signed_in.status().as_u16(), 303);
    let session = set_cookies(&signed_in)
        .into_iter()
        .find(|c| c.starts_with("__Host-anitrack_session="))
        .expect("session cookie");
    for attribute in ["Path=/", "HttpOnly", "SameSite=Lax", "Secure"] {
        assert!(
            attributes(&session).iter().any(|a| a == attribute),
            "{attribute}: {session}"
        );
    }
}

#[tokio::test]
async fn plain_http_development_opts_out_explicitly() {
    let env =
        TestEnv::start_configured(Catalog::Empty, &[("ANITRACK_INSECURE_COOKIES", "true")]).await;
    let form = env
        .http
        .get(env.url("/login"))
        .send()
        .await
        .expect("GET /login");
    let csrf = set_cookies(&form).pop().expect("a cookie");
    assert!(csrf.starts_with("anitrack_login_csrf="), "{csrf}");
    assert!(!attributes(&csrf).iter().any(|a| a == "Secure"), "{csrf}");
}

#[tokio::test]
async fn a_planted_csrf_cookie_cannot_forge_a_sign_in() {
    let env = TestEnv::start_with(Catalog::Empty).await;
    env.create_user("planted@example.test", "Planted", true)
        .await;
    let http = no_redirects();
    let base = env.server.base_url();
    let post = |cookie: String, token: String| {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("csrf_token", &token)
            .append_pair("email", "planted@example.test")
            .append_pair("password", PASSWORD)
            .finish();
        http.post(format!("{base}/login"))
            .header("cookie", cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    // An attacker who can set a cookie for the site (a sibling subdomain, a
    // plain-HTTP hop) plants its own value and submits the same in a form:
    // a double-submit check of equal values alone would let that through.
    let planted = post(
        "__Host-anitrack_login_csrf=attacker-chosen".into(),
        "attacker-chosen".into(),
    )
    .await
    .expect("send");
    assert_eq!(planted.status().as_u16(), 403);
    assert!(
        planted
            .text()
            .await
            .expect("page")
            .contains("This form has expired")
    );
    // A real cookie with a token it was not made for is refused as well...
    let (_, cookie) = login_form(&http, &base).await;
    let (other_token, _) = login_form(&http, &base).await;
    let mismatched = post(cookie.clone(), other_token).await.expect("send");
    assert_eq!(mismatched.status().as_u16(), 403);
    // ...a signature moved onto another value too...
    let (token, cookie) = login_form(&http, &base).await;
    let signature = cookie
        .rsplit_once('.')
        .map(|(_, s)| s.to_string())
        .expect("signed");
    let moved = post(
        format!("__Host-anitrack_login_csrf=attacker-chosen.{signature}"),
        "attacker-chosen".into(),
    )
    .await
    .expect("send");
    assert_eq!(moved.status().as_u16(), 403);
    // ...while the pair the server made signs in.
    let genuine = post(cookie, token).await.expect("send");
    assert_eq!(genuine.status().as_u16(), 303);
}
