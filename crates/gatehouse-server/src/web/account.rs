//! The person's own account: their second factors (an authenticator app,
//! with its QR code and one-time recovery codes; passkeys, added through
//! gatehouse.js and the API's WebAuthn ceremonies, named and removed
//! here), verifying one now, and signing out. The secret and the recovery codes are shown once, on the
//! page that answers the form, and never again.

use askama::Template;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use gatehouse_domain::ids::PasskeyId;

use super::extract::{PageForm, PageId, PageQuery};
use super::page::{Chrome, Instant, Notice, PageError, Section, cookies, render, render_with, see_other};
use super::step_up::{self, StepUp};
use super::viewer::Viewer;
use crate::auth::Caller;
use crate::problem::ApiError;
use crate::state::AppState;

/// A passkey in the person's list.
pub struct PasskeyRow {
    pub id: String,
    pub label: String,
    pub added: Instant,
    pub last_used: Option<Instant>,
}

#[derive(Template)]
#[template(path = "mfa.html")]
struct FactorsPage {
    chrome: Chrome,
    required: bool,
    step_up: StepUp,
    passkeys: Vec<PasskeyRow>,
    /// Why passkeys cannot be used on this server, when they cannot.
    passkeys_unavailable: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FactorsQuery {
    /// What was just done here, announced once.
    done: Option<String>,
}

/// `GET /ui/mfa`: the person's second factors.
pub async fn show(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
    PageQuery(query): PageQuery<FactorsQuery>,
) -> Result<Response, PageError> {
    let notice = match query.done.as_deref() {
        Some("verified") => Notice::done("Your second factor is verified."),
        Some("passkey-added") => Notice::done("Your passkey is added."),
        Some("passkey-renamed") => Notice::done("Your passkey is renamed."),
        Some("passkey-removed") => Notice::done("Your passkey is removed."),
        _ => None,
    };
    render(&factors_page(&state, &caller, notice, false).await?)
}

async fn factors_page(
    state: &AppState,
    caller: &Caller,
    notice: Option<Notice>,
    needed: bool,
) -> Result<FactorsPage, ApiError> {
    let passkeys = crate::passkeys::list(state, caller)
        .await?
        .into_iter()
        .map(|passkey| PasskeyRow {
            id: passkey.id.to_string(),
            label: passkey.label,
            added: Instant::of(passkey.created_at),
            last_used: passkey.last_used_at.map(Instant::of),
        })
        .collect();
    Ok(FactorsPage {
        chrome: Chrome::page(state, caller, "Second factor", Section::SecondFactor).notice(notice),
        required: state.settings.mfa.required,
        step_up: StepUp::of(state, caller, needed).await?,
        passkeys,
        passkeys_unavailable: crate::passkeys::relying_party(&state.settings)
            .err()
            .map(|error| error.detail().to_owned()),
    })
}

/// The second-factor page again with a refusal announced: for want of a
/// fresh factor, with the verification panel asked for.
async fn refused(state: &AppState, caller: &Caller, error: ApiError, to_do: &str) -> Result<Response, PageError> {
    if step_up::wants_factor(&error) {
        let notice = Notice::problem(format!("To {to_do}, verify your second factor first, here, then try again."));
        return render(&factors_page(state, caller, notice, true).await?);
    }
    if error.status().is_server_error() {
        return Err(error.into());
    }
    let notice = Notice::problem(error.detail());
    render_with(error.status(), HeaderMap::new(), &factors_page(state, caller, notice, false).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyForm {
    /// A TOTP or recovery code; none after a passkey verified (gatehouse.js).
    code: Option<String>,
}

/// `POST /ui/mfa/verify`: proves the second factor now, with a code (or,
/// through gatehouse.js, a passkey that verified just before).
pub async fn verify(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
    PageForm(form): PageForm<VerifyForm>,
) -> Result<Response, PageError> {
    match step_up::verify(&state, caller.clone(), form.code.as_deref()).await {
        Ok((caller, headers)) if caller.mfa_fresh(&state) => Ok(see_other("/ui/mfa?done=verified", headers)),
        Ok((caller, _)) => {
            let notice = Notice::problem("Enter the code your authenticator app shows, or use your passkey.");
            render(&factors_page(&state, &caller, notice, true).await?)
        }
        Err(error) if error.status().is_client_error() => {
            let page = factors_page(&state, &caller, Notice::problem(error.detail()), true).await?;
            render_with(error.status(), HeaderMap::new(), &page)
        }
        Err(error) => Err(error.into()),
    }
}

/// `POST /ui/mfa/passkeys`: reached only without JavaScript (with it,
/// gatehouse.js runs the ceremony): says what is needed.
pub async fn add_passkey_without_script(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
) -> Result<Response, PageError> {
    let notice = Notice::problem(
        "Adding a passkey needs JavaScript: your browser talks to the passkey, and the page passes its answer on.",
    );
    render_with(
        StatusCode::UNPROCESSABLE_ENTITY,
        HeaderMap::new(),
        &factors_page(&state, &caller, notice, false).await?,
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelForm {
    label: String,
}

/// `POST /ui/mfa/passkeys/{id}/rename`.
pub async fn rename_passkey(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
    PageId(id): PageId<PasskeyId>,
    PageForm(form): PageForm<LabelForm>,
) -> Result<Response, PageError> {
    match crate::passkeys::rename(&state, &caller, id, &form.label).await {
        Ok(_) => Ok(see_other("/ui/mfa?done=passkey-renamed", HeaderMap::new())),
        Err(error) => refused(&state, &caller, error, "rename a passkey").await,
    }
}

/// `POST /ui/mfa/passkeys/{id}/remove`: needs a fresh second factor.
pub async fn remove_passkey(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
    PageId(id): PageId<PasskeyId>,
) -> Result<Response, PageError> {
    match crate::passkeys::remove(&state, &caller, id).await {
        Ok(()) => Ok(see_other("/ui/mfa?done=passkey-removed", HeaderMap::new())),
        Err(error) => refused(&state, &caller, error, "remove a passkey").await,
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
    let step_up = StepUp::of(&state, &caller, false).await?;
    if step_up.totp {
        let notice = Notice::problem("You have an authenticator app already; an administrator can reset it.");
        return render_with(
            StatusCode::CONFLICT,
            HeaderMap::new(),
            &factors_page(&state, &caller, notice, false).await?,
        );
    }
    let enrollment = match crate::api::mfa::begin_totp(&state, &caller).await {
        Ok(enrollment) => enrollment,
        Err(error) => return refused(&state, &caller, error, "add an authenticator app").await,
    };
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
            render_with(error.status(), HeaderMap::new(), &factors_page(&state, &caller, notice, false).await?)
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
