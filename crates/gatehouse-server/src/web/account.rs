//! The person's own account: their second factors (enrolling an
//! authenticator app, with its QR code and one-time recovery codes) and
//! signing out. The secret and the recovery codes are shown once, on the
//! page that answers the form, and never again.

use askama::Template;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::extract::PageForm;
use super::page::{Chrome, Notice, PageError, Section, cookies, fresh_for, render, render_with};
use super::viewer::Viewer;
use crate::auth::Caller;
use crate::problem::ApiError;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "mfa.html")]
struct FactorsPage {
    chrome: Chrome,
    enrolled: bool,
    required: bool,
    fresh_for: Option<String>,
}

/// `GET /ui/mfa`.
pub async fn show(State(state): State<AppState>, Viewer(caller): Viewer) -> Result<Response, PageError> {
    render(&factors_page(&state, &caller, None))
}

fn factors_page(state: &AppState, caller: &Caller, notice: Option<Notice>) -> FactorsPage {
    FactorsPage {
        chrome: Chrome::page(state, caller, "Second factor", Section::SecondFactor).notice(notice),
        enrolled: caller.mfa_enrolled(),
        required: state.settings.mfa.required,
        fresh_for: fresh_for(state, caller),
    }
}

#[derive(Template)]
#[template(path = "mfa_enrol.html")]
struct EnrolPage {
    chrome: Chrome,
    secret: String,
    qr_svg: String,
}

/// `POST /ui/mfa/totp`: starts enrolling an authenticator app.
pub async fn begin_totp(State(state): State<AppState>, Viewer(caller): Viewer) -> Result<Response, PageError> {
    if caller.mfa_enrolled() {
        let notice = Notice::problem("You have an authenticator app already; an administrator can reset it.");
        return render_with(StatusCode::CONFLICT, HeaderMap::new(), &factors_page(&state, &caller, notice));
    }
    let enrollment = crate::api::mfa::begin_totp(&state, &caller).await?;
    render(&EnrolPage {
        chrome: Chrome::page(&state, &caller, "Set up an authenticator app", Section::SecondFactor),
        secret: enrollment.secret,
        qr_svg: enrollment.qr_svg,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeForm {
    code: String,
}

#[derive(Template)]
#[template(path = "mfa_recovery.html")]
struct RecoveryPage {
    chrome: Chrome,
    codes: Vec<String>,
}

/// `POST /ui/mfa/totp/confirm`: the first code confirms the app; the
/// recovery codes are shown once.
pub async fn confirm_totp(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
    PageForm(form): PageForm<CodeForm>,
) -> Result<Response, PageError> {
    match crate::api::mfa::confirm_totp(&state, &caller, form.code.trim()).await {
        Ok((headers, codes, _)) => {
            let page = RecoveryPage {
                chrome: Chrome::page(&state, &caller, "Recovery codes", Section::SecondFactor)
                    .notice(Notice::done("Your authenticator app is set up.")),
                codes,
            };
            render_with(StatusCode::OK, cookies(headers), &page)
        }
        Err(error) if error.status().is_client_error() => {
            let notice = Notice::problem(format!("{} Start again to get a new QR code.", error.detail()));
            render_with(error.status(), HeaderMap::new(), &factors_page(&state, &caller, notice))
        }
        Err(error) => Err(error.into()),
    }
}

#[derive(Template)]
#[template(path = "signed_out.html")]
struct SignedOutPage {
    chrome: Chrome,
}

/// `POST /ui/sign-out`: ends the session and says so.
pub async fn sign_out(State(state): State<AppState>, Viewer(caller): Viewer) -> Result<Response, PageError> {
    let clear = crate::sso::login::end_session(&state, &caller).await?;
    let mut headers = HeaderMap::new();
    let value =
        HeaderValue::from_str(&clear).map_err(|_| ApiError::Internal("a cookie could not be written".into()))?;
    headers.insert(SET_COOKIE, value);
    render_with(
        StatusCode::OK,
        headers,
        &SignedOutPage { chrome: Chrome::anonymous("Signed out").notice(Notice::done("You are signed out.")) },
    )
}
