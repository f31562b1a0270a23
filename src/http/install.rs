//! OAuth v2 install: `GET /slack/install` sends the installer to Slack with a one-time `state`
//! bound to their browser; `GET /slack/oauth/callback` checks it, exchanges the code and stores
//! the workspace with its tokens sealed. Every failure shows a page and stores nothing.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieAge};
use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use secrecy::ExposeSecret;

use super::AppState;
use super::pages::{esc, message, page};
use crate::crypto::random_token;
use crate::slack::oauth::Grant;
use crate::store::catalog;
use crate::store::installs::{self, Installation};
use crate::store::onetime::{self, StateProblem};

/// The browser cookie an install `state` is bound to.
const COOKIE: &str = "sonar_slack_install";
const STATE_TTL_MINUTES: i64 = 10;
/// Installs under way at once; more are refused, so the page cannot be used to fill the database.
const MAX_PENDING_STATES: u64 = 1000;

pub async fn start(state: web::Data<AppState>) -> HttpResponse {
    let Some(oauth) = &state.app.oauth else {
        return message(
            StatusCode::SERVICE_UNAVAILABLE,
            "The Slack app is not configured",
            "Set SONAR_SLACK_SLACK_CLIENT_ID, SONAR_SLACK_SLACK_CLIENT_SECRET and SONAR_SLACK_SLACK_SIGNING_SECRET (from the app's Basic Information page) and SONAR_SLACK_PUBLIC_URL, then restart sonar-slack and open this page again.",
        );
    };
    match onetime::pending_states(&state.db).await {
        Ok(n) if n >= MAX_PENDING_STATES => {
            tracing::warn!(pending = n, "too many installs under way; refusing another");
            return message(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many installs are under way",
                "Try again in a few minutes. Nothing was stored.",
            );
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot count pending installs"),
    }
    let (nonce, browser) = (random_token(), random_token());
    let ttl = chrono::Duration::minutes(STATE_TTL_MINUTES);
    if let Err(e) = onetime::add_oauth_state(&state.db, &nonce, &browser, ttl).await {
        tracing::error!(error = %e, "cannot store an install state");
        return message(
            StatusCode::SERVICE_UNAVAILABLE,
            "Try again in a moment",
            "The database did not answer, so the install could not start. Nothing was stored.",
        );
    }
    let cookie = Cookie::build(COOKIE, browser)
        .path(state.app.cookie_path("/slack/oauth"))
        .http_only(true)
        // Lax: the cookie must come back on Slack's top-level redirect to the callback.
        .same_site(SameSite::Lax)
        .secure(state.app.secure_cookies())
        .max_age(CookieAge::minutes(STATE_TTL_MINUTES))
        .finish();
    HttpResponse::Found()
        .insert_header((LOCATION, oauth.authorize_url(&nonce)))
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
    let Some(nonce) = q.state.as_deref().filter(|s| !s.is_empty()) else {
        return again(
            "This install did not start here",
            "Slack's answer has no state. Installs must start from this service's install page (org-wide installs from Slack's admin pages are not supported).",
        );
    };
    let browser = req.cookie(COOKIE).map(|c| c.value().to_owned());
    match onetime::take_oauth_state(&state.db, nonce, browser.as_deref(), Utc::now()).await {
        Ok(Ok(())) => {}
        Ok(Err(problem)) => {
            let why = match problem {
                StateProblem::Unknown => {
                    "This approval link was already used, or was not issued by this service."
                }
                StateProblem::Expired => "The install took longer than 10 minutes and expired.",
                StateProblem::OtherBrowser => {
                    "The install was started in another browser (or its cookie was blocked). Finish it in the browser that started it."
                }
            };
            return again("The install could not be verified", why);
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot check an install state");
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
    let key = g
        .team_id
        .clone()
        .filter(|_| !g.is_enterprise_install)
        .or(g.enterprise_id.clone())
        .or(g.team_id.clone())
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
