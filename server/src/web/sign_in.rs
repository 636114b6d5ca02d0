//! `/login` and `/logout`.

use http::StatusCode;

use super::respond::{Page, csrf_refused, redirect, render, throttled};
use super::session::{
    DEVICE_COOKIE, DEVICE_MAX_AGE_SECS, Form, LOGIN_CSRF_COOKIE, LOGIN_CSRF_PURPOSE,
    SESSION_COOKIE, device, device_cookie_value, login_csrf_ok, same, session,
};
use super::{cookies, pages};
use crate::auth::issue;
use crate::auth::sessions::{self, ABSOLUTE, random_value as random_token};
use crate::error::Error;
use crate::request::Call;
use crate::validate::{self, TextKind, forbidden_character};

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
    let signed = call.context().signing_key.sign(LOGIN_CSRF_PURPOSE, &csrf);
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
    // A browser that signed in to this account before has a counter of its
    // own, so an email locked out from elsewhere does not lock it out.
    let device = device(call);
    match call
        .throttle_sign_in(email.as_deref().ok(), device.as_ref())
        .await
    {
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
    let device = cookies::set(
        call,
        DEVICE_COOKIE,
        &device_cookie_value(call, account.id),
        "Strict",
        Some(DEVICE_MAX_AGE_SECS),
    );
    Ok(redirect("/settings/tokens", &[session, clear, device]))
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
