//! The settings page (`/login`, `/logout`, `/settings/tokens`): sign in in a
//! browser and manage API tokens. Server-rendered HTML that works without
//! JavaScript; outside `/api/v1` and the OpenAPI document. Beside it, the
//! API reference ([`reference`]): `/docs` and `/api/v1/openapi.json`.
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
pub mod reference;
mod respond;
mod session;
mod sign_in;
mod tokens;

pub use respond::{Page, asset, error_page};
pub use session::{Form, SESSION_COOKIE};
pub use sign_in::{login, login_page, logout, logout_page};
pub use tokens::{create_token, revoke, revoke_page, tokens};

#[cfg(test)]
mod tests {
    use super::pages;
    use super::session::{Form, same};

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
