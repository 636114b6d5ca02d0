//! `/settings/tokens`: the account's tokens, creating one (shown once) and
//! revoking one (after a confirmation).

use chrono::{DateTime, Utc};
use http::StatusCode;

use super::pages;
use super::respond::{Page, csrf_refused, message, redirect, render};
use super::session::{Form, same, session};
use crate::auth::issue;
use crate::auth::sessions::Session;
use crate::auth::tokens;
use crate::error::Error;
use crate::request::Call;
use crate::validate::{TextKind, forbidden_character};

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
    let (token, plain) = match call.create_token(session.account.id, name).await {
        Ok(minted) => minted,
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
