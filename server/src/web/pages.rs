//! The settings page's templates (askama: compiled, auto-escaped HTML).

use askama::Template;

#[derive(Template)]
#[template(path = "login.html")]
pub struct Login<'a> {
    pub csrf_token: &'a str,
    pub email: &'a str,
    pub error: Option<&'a str>,
    pub notice: Option<&'a str>,
}

/// A token row of the table.
pub struct TokenRow {
    pub id: i64,
    pub name: String,
    pub created: String,
    pub last_used: String,
}

/// A token just created: its only appearance in plain text.
pub struct Created {
    pub name: String,
    pub token: String,
}

#[derive(Template)]
#[template(path = "tokens.html")]
pub struct Tokens<'a> {
    pub name: &'a str,
    pub email: &'a str,
    pub csrf_token: &'a str,
    pub api_access: bool,
    pub tokens: Vec<TokenRow>,
    pub created: Option<Created>,
    pub notice: Option<&'a str>,
    pub name_input: &'a str,
    pub name_error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "revoke.html")]
pub struct Revoke<'a> {
    pub token_id: i64,
    pub token_name: &'a str,
    pub csrf_token: &'a str,
}

#[derive(Template)]
#[template(path = "logout.html")]
pub struct Logout<'a> {
    pub csrf_token: &'a str,
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct Message<'a> {
    pub title: &'a str,
    pub text: &'a str,
    pub link: &'a str,
    pub link_text: &'a str,
}
