//! What every page shares: the frame around it ([`Chrome`]), timestamps
//! ([`Instant`]), rendering, and what a page answers when it cannot be
//! shown ([`PageError`]): a sign-in or enrolment redirect, or an HTML page
//! naming the reason, never a bare problem document.

use askama::Template;
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use time::OffsetDateTime;
use time::macros::format_description;

use gatehouse_domain::authorization::Action;
use gatehouse_domain::grant::Resource;

use super::assets::HTMX_INTEGRITY;
use crate::auth::Caller;
use crate::problem::ApiError;
use crate::state::AppState;

/// Any of these lets a person into the console's administration pages
/// (each page still asks for its own).
const ADMIN_ACTIONS: [Action; 4] =
    [Action::IdentityView, Action::GrantManage, Action::VendorManage, Action::PolicyManage];

/// The console's sections, for the navigation's `aria-current`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Approvals,
    Reviews,
    Audit,
    Admin,
    SecondFactor,
    None,
}

/// A result to announce in the page's `role=status` region.
pub struct Notice {
    pub text: String,
    /// A refusal or failure (shown as one), not a success.
    pub problem: bool,
}

impl Notice {
    pub fn done(text: impl Into<String>) -> Option<Self> {
        Some(Self { text: text.into(), problem: false })
    }

    pub fn problem(text: impl Into<String>) -> Option<Self> {
        Some(Self { text: text.into(), problem: true })
    }
}

/// The frame of a page: who is signed in, where they are, what to announce.
pub struct Chrome {
    pub title: String,
    /// The signed-in person's name (none on a page shown before sign-in).
    pub person: Option<String>,
    pub section: Section,
    pub notice: Option<Notice>,
    pub htmx_integrity: &'static str,
    /// The navigation shows the audit log to those who may read it.
    pub shows_audit: bool,
    /// The navigation shows administration to those who may do any of it.
    pub shows_admin: bool,
}

impl Chrome {
    /// The frame of a page for the signed-in `caller`.
    pub fn page(state: &AppState, caller: &Caller, title: impl Into<String>, section: Section) -> Self {
        let gatehouse = Resource::Gatehouse;
        let identity = caller.identity();
        Self {
            title: title.into(),
            person: Some(identity.email.clone().unwrap_or_else(|| identity.name.clone())),
            section,
            notice: None,
            htmx_integrity: HTMX_INTEGRITY,
            shows_audit: caller.may(state, Action::AuditRead, &gatehouse),
            shows_admin: ADMIN_ACTIONS.iter().any(|action| caller.may(state, *action, &gatehouse)),
        }
    }

    /// The frame of a page shown to nobody signed in.
    pub fn anonymous(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            person: None,
            section: Section::None,
            notice: None,
            htmx_integrity: HTMX_INTEGRITY,
            shows_audit: false,
            shows_admin: false,
        }
    }

    pub fn notice(mut self, notice: Option<Notice>) -> Self {
        self.notice = notice;
        self
    }

    /// `aria-current` of the navigation link to the approvals.
    pub fn at_approvals(&self) -> &'static str {
        self.current(Section::Approvals)
    }

    /// `aria-current` of the navigation link to the reviews.
    pub fn at_reviews(&self) -> &'static str {
        self.current(Section::Reviews)
    }

    /// `aria-current` of the navigation link to the audit log.
    pub fn at_audit(&self) -> &'static str {
        self.current(Section::Audit)
    }

    /// `aria-current` of the navigation link to administration.
    pub fn at_admin(&self) -> &'static str {
        self.current(Section::Admin)
    }

    /// `aria-current` of the navigation link to the second factors.
    pub fn at_second_factor(&self) -> &'static str {
        self.current(Section::SecondFactor)
    }

    fn current(&self, section: Section) -> &'static str {
        if self.section == section { "page" } else { "false" }
    }
}

/// A timestamp shown in UTC, machine-readable for `gatehouse.js` to add
/// the reader's local time on hover.
pub struct Instant {
    pub iso: String,
    pub text: String,
}

impl Instant {
    pub fn of(at: OffsetDateTime) -> Self {
        let at = at.to_offset(time::UtcOffset::UTC);
        let iso = gatehouse_domain::clock::format_rfc3339(at);
        let text =
            at.format(format_description!("[year]-[month]-[day] [hour]:[minute] UTC")).unwrap_or_else(|_| iso.clone());
        Self { iso, text }
    }

    /// From the API's RFC 3339 text (shown as given if it does not parse).
    pub fn parse(text: &str) -> Self {
        match OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339) {
            Ok(at) => Self::of(at),
            Err(_) => Self { iso: text.to_owned(), text: text.to_owned() },
        }
    }
}

/// How long the caller's second factor stays fresh, in words ("12 more
/// minutes"); none when it is not fresh.
pub fn fresh_for(state: &AppState, caller: &Caller) -> Option<String> {
    let left = caller.mfa_verified_at()? + state.settings.mfa.fresh_for - state.clock.now();
    if !left.is_positive() {
        return None;
    }
    let minutes = (left.whole_seconds() + 59) / 60;
    Some(if minutes == 1 { "1 more minute".to_owned() } else { format!("{minutes} more minutes") })
}

/// Renders `page`; a template that fails is a bug, answered as one.
pub fn render(page: &impl Template) -> Result<Response, PageError> {
    render_with(StatusCode::OK, HeaderMap::new(), page)
}

pub fn render_with(status: StatusCode, headers: HeaderMap, page: &impl Template) -> Result<Response, PageError> {
    let html = page.render().map_err(|error| PageError::from(ApiError::Internal(format!("a page failed: {error}"))))?;
    Ok((status, headers, Html(html)).into_response())
}

/// `303 See Other` to `location`, with `headers` (a rotated session cookie).
pub fn see_other(location: &str, mut headers: HeaderMap) -> Response {
    if let Ok(value) = HeaderValue::from_str(location) {
        headers.insert(LOCATION, value);
    }
    (StatusCode::SEE_OTHER, headers).into_response()
}

/// Keeps only the `Set-Cookie` headers of `headers`.
pub fn cookies(headers: HeaderMap) -> HeaderMap {
    let mut kept = HeaderMap::new();
    for value in headers.get_all(SET_COOKIE) {
        kept.append(SET_COOKIE, value.clone());
    }
    kept
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    chrome: Chrome,
    status: u16,
    detail: String,
    sign_in: Option<String>,
}

/// Why a page is not shown.
#[derive(Debug)]
pub enum PageError {
    /// Not signed in: to the identity provider, then back to `return_to`.
    SignIn { return_to: String, sso: bool },
    /// Signed in, but a second factor must be enrolled first.
    Enroll,
    /// Refused or failed: an HTML page with the status and the reason.
    Refused(ApiError),
}

impl PageError {
    pub fn not_found(detail: &str) -> Self {
        Self::Refused(ApiError::NotFound(detail.to_owned()))
    }
}

impl From<gatehouse_domain::store::StoreError> for PageError {
    fn from(error: gatehouse_domain::store::StoreError) -> Self {
        Self::Refused(error.into())
    }
}

impl From<ApiError> for PageError {
    fn from(error: ApiError) -> Self {
        Self::Refused(error)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, detail, sign_in) = match self {
            Self::SignIn { return_to, sso: true } => {
                let location = format!("/auth/login?return_to={}", encode_query(&return_to));
                return see_other(&location, HeaderMap::new());
            }
            Self::SignIn { sso: false, .. } => (
                StatusCode::UNAUTHORIZED,
                "The console signs people in through the company's identity provider, and this server has none \
                 configured: set [oidc] in its configuration."
                    .to_owned(),
                None,
            ),
            Self::Enroll => return see_other("/ui/mfa", HeaderMap::new()),
            Self::Refused(error) => {
                let status = error.status();
                if status.is_server_error() {
                    tracing::error!(error = %error.detail(), "a console page failed");
                }
                let detail = if matches!(error, ApiError::Internal(_)) {
                    "Something went wrong on the server; it has been logged.".to_owned()
                } else {
                    error.detail().to_owned()
                };
                let sign_in = (status == StatusCode::UNAUTHORIZED).then(|| "/ui".to_owned());
                (status, detail, sign_in)
            }
        };
        let page = ErrorPage {
            chrome: Chrome::anonymous(status.canonical_reason().unwrap_or("Error")),
            status: status.as_u16(),
            detail,
            sign_in,
        };
        match page.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(_) => status.into_response(),
        }
    }
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
pub fn encode_query(value: &str) -> String {
    let mut encoded = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => encoded.push(char::from(byte)),
            other => encoded.push_str(&format!("%{other:02X}")),
        }
    }
    encoded
}
