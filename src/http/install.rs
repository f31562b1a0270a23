//! OAuth v2 install: `GET /slack/install` sends the installer to Slack with a `state` sealed by our
//! key (random, 10 minutes, bound to a browser cookie; nothing stored); `GET
//! /slack/oauth/callback` opens and checks it, records it used, exchanges the code and stores the
//! workspace with its tokens sealed. Every failure shows a page and stores no workspace.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieAge};
use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use secrecy::ExposeSecret;

use super::AppState;
use super::pages::{esc, message, page};
use crate::crypto::digest;
use crate::crypto::random_token;
use crate::domain::install_state::{InstallState, STATE_TTL_SECS, StateProblem};
use crate::domain::types::installation_keys;
use crate::slack::oauth::Grant;
use crate::store::catalog;
use crate::store::installs::{self, Installation};
use crate::store::onetime;

/// The browser cookie an install `state` is bound to.
const COOKIE: &str = "sonar_slack_install";
/// The associated data of sealed install states.
const STATE_CONTEXT: &str = "oauth:install_state";

pub async fn start(state: web::Data<AppState>) -> HttpResponse {
    let Some(oauth) = &state.app.oauth else {
        return message(
            StatusCode::SERVICE_UNAVAILABLE,
            "The Slack app is not configured",
            "Set SONAR_SLACK_SLACK_CLIENT_ID, SONAR_SLACK_SLACK_CLIENT_SECRET and SONAR_SLACK_SLACK_SIGNING_SECRET (from the app's Basic Information page) and SONAR_SLACK_PUBLIC_URL, then restart sonar-slack and open this page again.",
        );
    };
    // Nothing is stored until the installer comes back: the state is sealed into the URL.
    let browser = random_token();
    let claims = InstallState::new(random_token(), digest(&browser), Utc::now().timestamp());
    let Ok(claims) = serde_json::to_string(&claims) else {
        return message(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Try again",
            "The install could not start.",
        );
    };
    let sealed_state = state.sealer.seal_for_url(&claims, STATE_CONTEXT);
    let cookie = Cookie::build(COOKIE, browser)
        .path(state.app.cookie_path("/slack/oauth"))
        .http_only(true)
        // Lax: the cookie must come back on Slack's top-level redirect to the callback.
        .same_site(SameSite::Lax)
        .secure(state.app.secure_cookies())
        .max_age(CookieAge::seconds(STATE_TTL_SECS))
        .finish();
    HttpResponse::Found()
        .insert_header((LOCATION, oauth.authorize_url(&sealed_state)))
        .insert_header(("Cache-Control", "no-store"))
        .cookie(cookie)
        .finish()
}

/// What Slack sends back; repeated or unknown parameters are ignored (the first one counts).
#[derive(Default)]
struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

impl Callback {
    fn read(query: &str) -> Self {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
        let first = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        Self {
            code: first("code"),
            state: first("state"),
            error: first("error"),
        }
    }
}

pub async fn callback(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let query = Callback::read(req.query_string());
    let mut response = finish(&req, query, &state).await;
    // The cookie has served its purpose, whatever happened.
    let mut gone = Cookie::build(COOKIE, "")
        .path(state.app.cookie_path("/slack/oauth"))
        .finish();
    gone.make_removal();
    let _ = response.add_cookie(&gone);
    response
}

async fn finish(req: &HttpRequest, q: Callback, state: &AppState) -> HttpResponse {
    let restart = format!("{}/slack/install", state.app.public_base);
    let again = |title: &str, why: &str| {
        page(
            StatusCode::BAD_REQUEST,
            title,
            &format!(
                "<p>{}</p><p>Nothing was stored. <a href=\"{}\">Start the install again</a>.</p>",
                esc(why),
                esc(&restart)
            ),
        )
    };
    let Some(oauth) = &state.app.oauth else {
        return message(
            StatusCode::SERVICE_UNAVAILABLE,
            "The Slack app is not configured",
            "Set SONAR_SLACK_SLACK_CLIENT_ID and SONAR_SLACK_SLACK_CLIENT_SECRET, restart, and install again.",
        );
    };
    let Some(sealed_state) = q.state.as_deref().filter(|s| !s.is_empty()) else {
        return again(
            "This install did not start here",
            "Slack's answer has no state. Installs must start from this service's install page (org-wide installs from Slack's admin pages are not supported).",
        );
    };
    let browser = req.cookie(COOKIE).map(|c| digest(c.value()));
    let claims: Option<InstallState> = state
        .sealer
        .open_from_url(sealed_state, STATE_CONTEXT)
        .ok()
        .and_then(|json| serde_json::from_str(json.expose_secret()).ok());
    let Some(claims) = claims else {
        return again(
            "The install could not be verified",
            StateProblem::Unknown.explain(),
        );
    };
    if let Err(problem) = claims.check(browser.as_deref(), Utc::now().timestamp()) {
        return again("The install could not be verified", problem.explain());
    }
    let expires = chrono::DateTime::from_timestamp(claims.expires, 0).unwrap_or_else(Utc::now);
    match onetime::use_install_nonce(&state.db, &claims.nonce, expires).await {
        Ok(true) => {}
        Ok(false) => {
            return again(
                "The install could not be verified",
                StateProblem::Used.explain(),
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot record an install state");
            return message(
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again in a moment",
                "The database did not answer. Nothing was stored.",
            );
        }
    }
    if let Some(error) = q.error.as_deref() {
        let why = if error == "access_denied" {
            "The install was cancelled in Slack (access_denied).".to_owned()
        } else {
            format!("Slack reported an error: {error}.")
        };
        return again("The app was not installed", &why);
    }
    let Some(code) = q.code.as_deref().filter(|c| !c.is_empty()) else {
        return again("The app was not installed", "Slack's answer has no code.");
    };
    let grant = match oauth.exchange(code).await {
        Ok(g) => g,
        Err(e) => {
            tracing::warn!(error = %e, "the OAuth code exchange failed");
            return page(
                StatusCode::BAD_GATEWAY,
                "Slack did not grant the install",
                &format!(
                    "<p>{}.</p><p>What to do: {}.</p><p>Nothing was stored. <a href=\"{}\">Start the install again</a>.</p>",
                    esc(&e.to_string()),
                    esc(e.advice()),
                    esc(&restart)
                ),
            );
        }
    };
    match store_grant(state, &grant).await {
        Ok(key) => {
            let name = grant
                .team_name
                .clone()
                .or(grant.enterprise_name.clone())
                .unwrap_or(key.clone());
            crate::telemetry::Counters::bump(&state.counters.installs);
            tracing::info!(team = %key, "the Slack app was installed");
            let command = esc(&state.app.command);
            page(
                StatusCode::OK,
                "sonar-slack is installed",
                &format!(
                    "<p>It is installed in <strong>{}</strong>.</p><p>Next, in Slack:</p><ol>\
<li><code>{command} connect</code> links your SonarQube account (each user, once).</li>\
<li><code>{command} subscribe &lt;project_key&gt;</code> in a channel sends it that project's quality-gate changes.</li>\
<li>In a private channel, first <code>/invite</code> the app.</li></ol>\
<p><code>{command} help</code> lists everything.</p>",
                    esc(&name)
                ),
            )
        }
        Err(why) => {
            tracing::error!(error = %why, "cannot store the installation");
            message(
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again in a moment",
                "The installation could not be saved. Start the install again.",
            )
        }
    }
}

/// Seals the tokens and stores the workspace (in place on a reinstall). Returns its key: the team,
/// or the enterprise for an organization-wide install.
async fn store_grant(state: &AppState, g: &Grant) -> Result<String, String> {
    let key = installation_keys(
        g.team_id.as_deref(),
        g.enterprise_id.as_deref(),
        g.is_enterprise_install,
    )
    .first()
    .map(|k| (*k).to_owned())
    .ok_or("Slack's answer names no team")?;
    let expires_at = g
        .expires_in
        .and_then(|d| chrono::Duration::from_std(d).ok())
        .map(|d| Utc::now() + d);
    let installation = Installation {
        team_id: key.clone(),
        team_name: g.team_name.clone().or(g.enterprise_name.clone()),
        enterprise_id: g.enterprise_id.clone(),
        bot_user_id: g.bot_user_id.clone(),
        app_id: g.app_id.clone(),
        scopes: g.scopes.clone(),
        installed_by: g.installer.clone(),
        bot_token_sealed: state.sealer.seal(
            g.bot_token.expose_secret(),
            &catalog::bot_token_context(&key),
        ),
        refresh_token_sealed: g.refresh_token.as_ref().map(|t| {
            state
                .sealer
                .seal(t.expose_secret(), &catalog::refresh_token_context(&key))
        }),
        token_expires_at: expires_at,
    };
    installs::install(&state.db, &installation)
        .await
        .map_err(|e| e.to_string())?;
    Ok(key)
}
