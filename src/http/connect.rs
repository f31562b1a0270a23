//! The account-linking page `GET/POST /connect/{token}`: the one-time link from `/sonarqube connect`
//! opens a form where the user pastes a SonarQube user token. It is checked with
//! `api/users/current`, sealed and stored; the link is then used up. CSRF-protected by a
//! double-submit cookie; nothing secret is ever echoed back.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use sea_orm::TransactionTrait;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::AppState;
use super::body::read_raw;
use super::pages::{esc, message, page};
use crate::crypto::random_token;
use crate::domain::types::ServerUrl;
use crate::sonar::SonarError;
use crate::store::onetime::{self, LinkProblem};
use crate::store::{catalog, links};
use entity::link_token;

const CSRF_COOKIE: &str = "sonar_slack_csrf";
const MAX_FORM: usize = 16 * 1024;

pub async fn form(
    req: HttpRequest,
    token: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    match usable(&state, &token).await {
        Ok(link) => show_form(&req, &state, &link, None, None, StatusCode::OK).await,
        Err(r) => r,
    }
}

#[derive(Deserialize)]
struct Submitted {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    connection: String,
    #[serde(default)]
    sonar_token: String,
}

pub async fn submit(
    req: HttpRequest,
    token: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let link = match usable(&state, &token).await {
        Ok(link) => link,
        Err(r) => return r,
    };
    let form: Submitted = match read_raw(&req, payload, MAX_FORM, "the linking form").await {
        Ok(body) => match serde_urlencoded::from_bytes(&body) {
            Ok(f) => f,
            Err(_) => {
                return message(
                    StatusCode::BAD_REQUEST,
                    "The form could not be read",
                    "Reload the page and submit the form again.",
                );
            }
        },
        Err(e) => {
            use actix_web::ResponseError;
            return message(
                e.status_code(),
                "The form could not be read",
                &e.to_string(),
            );
        }
    };
    let cookie = req.cookie(CSRF_COOKIE).map(|c| c.value().to_owned());
    let same = cookie
        .as_deref()
        .is_some_and(|c| !c.is_empty() && bool::from(c.as_bytes().ct_eq(form.csrf.as_bytes())));
    if !same {
        return message(
            StatusCode::FORBIDDEN,
            "The form is out of date",
            "This form was not opened in this browser session (or cookies are blocked). Open the link again and submit from there.",
        );
    }
    // Pasting picks up spaces, line breaks and invisible characters; tokens have none.
    let secret = SecretString::from(
        form.sonar_token
            .chars()
            .filter(|c| {
                !c.is_whitespace()
                    && !matches!(c, '\u{200b}'..='\u{200d}' | '\u{2060}' | '\u{feff}')
            })
            .collect::<String>(),
    );
    let Some(connection) = connection_of(&state, &form.connection).await else {
        return show_form(
            &req,
            &state,
            &link,
            Some("Choose one of the listed SonarQube servers."),
            None,
            StatusCode::BAD_REQUEST,
        )
        .await;
    };
    if secret.expose_secret().is_empty() {
        return show_form(
            &req,
            &state,
            &link,
            Some("Paste a SonarQube user token."),
            Some(connection.id),
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    let Ok(server) = ServerUrl::parse(&connection.server_url) else {
        return message(
            StatusCode::INTERNAL_SERVER_ERROR,
            "This server cannot be used",
            "Its URL is unusable; ask the operator to check `sonar-slack connections list`.",
        );
    };
    let user = match state.sonar.current_user(&server, &secret).await {
        Ok(u) => u,
        Err(e) => {
            let (status, why) = match e {
                SonarError::TokenRejected { .. } => (
                    StatusCode::BAD_REQUEST,
                    format!(
                        "SonarQube at {} rejected this token: it is wrong, revoked or expired. Paste a valid user token (My Account → Security).",
                        connection.server_url
                    ),
                ),
                other => (StatusCode::BAD_GATEWAY, other.to_string()),
            };
            return show_form(&req, &state, &link, Some(&why), Some(connection.id), status).await;
        }
    };
    let sealed = state.sealer.seal(
        secret.expose_secret(),
        &links::user_token_context(&link.team_id, &link.slack_user_id, connection.id),
    );
    // The link is used up only together with the account being linked.
    let linked = async {
        let txn = state.db.begin().await?;
        if !onetime::use_link_token(&txn, &token, Utc::now()).await? {
            return Ok(false);
        }
        links::link(
            &txn,
            &link.team_id,
            &link.slack_user_id,
            connection.id,
            &user.login,
            user.name.as_deref(),
            sealed,
        )
        .await?;
        txn.commit().await?;
        Ok::<bool, sea_orm::DbErr>(true)
    };
    match linked.await {
        Ok(true) => {}
        Ok(false) => return gone(),
        Err(e) => return unavailable(e),
    }
    tracing::info!(team = %link.team_id, user = %link.slack_user_id, login = %user.login, server = %connection.server_url, "SonarQube account linked");
    let command = esc(&state.app.command);
    let mut response = page(
        StatusCode::OK,
        "Your SonarQube account is linked",
        &format!(
            "<p>Linked as <strong>{}</strong>{} on {}.</p><p>Back in Slack, in the channel that should hear about a project:</p>\
<p><code>{command} subscribe &lt;project_key&gt;</code></p><p class=\"hint\">You can close this page. <code>{command} disconnect</code> removes the link and its token.</p>",
            esc(&user.login),
            user.name
                .map(|n| format!(" ({})", esc(&n)))
                .unwrap_or_default(),
            esc(&connection.server_url),
        ),
    );
    let mut gone = Cookie::build(CSRF_COOKIE, "")
        .path(state.app.cookie_path("/connect"))
        .finish();
    gone.make_removal();
    let _ = response.add_cookie(&gone);
    response
}

/// Whether the link can still be used; otherwise the page that says why.
async fn usable(state: &AppState, token: &str) -> Result<link_token::Model, HttpResponse> {
    match onetime::peek_link_token(&state.db, token, Utc::now()).await {
        Ok(Ok(link)) => Ok(link),
        Ok(Err(LinkProblem::Used)) => Err(message(
            StatusCode::GONE,
            "This link was already used",
            &format!(
                "Each link works once. Run {} connect in Slack for a new one.",
                state.app.command
            ),
        )),
        Ok(Err(LinkProblem::Expired)) => Err(message(
            StatusCode::GONE,
            "This link has expired",
            &format!(
                "Links work for 10 minutes. Run {} connect in Slack for a new one.",
                state.app.command
            ),
        )),
        Ok(Err(LinkProblem::Unknown)) => Err(message(
            StatusCode::NOT_FOUND,
            "This link is not valid",
            &format!(
                "Check that it was copied whole, or run {} connect in Slack for a new one.",
                state.app.command
            ),
        )),
        Err(e) => Err(unavailable(e)),
    }
}

async fn connection_of(state: &AppState, id: &str) -> Option<entity::connection::Model> {
    let id: i64 = id.trim().parse().ok()?;
    catalog::connections(&state.db)
        .await
        .ok()?
        .into_iter()
        .find(|c| c.id == id)
}

async fn show_form(
    req: &HttpRequest,
    state: &AppState,
    link: &link_token::Model,
    error: Option<&str>,
    chosen: Option<i64>,
    status: StatusCode,
) -> HttpResponse {
    let connections = match catalog::connections(&state.db).await {
        Ok(c) => c,
        Err(e) => return unavailable(e),
    };
    if connections.is_empty() {
        return message(
            StatusCode::SERVICE_UNAVAILABLE,
            "No SonarQube server is configured",
            "An operator must first add one with `sonar-slack connections add --server-url <URL>`.",
        );
    }
    // Keep the browser's CSRF value if it has one, so two open tabs both work.
    let csrf = req
        .cookie(CSRF_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|v| v.len() >= 32)
        .unwrap_or_else(random_token);
    let options: String = connections
        .iter()
        .map(|c| {
            let label = match &c.organization {
                Some(org) => format!("{} (organization {org})", c.server_url),
                None => c.server_url.clone(),
            };
            let selected = if chosen == Some(c.id) {
                " selected"
            } else {
                ""
            };
            format!(
                "<option value=\"{}\"{selected}>{}</option>",
                c.id,
                esc(&label)
            )
        })
        .collect();
    let error = error
        .map(|e| format!("<p class=\"error\">{}</p>", esc(e)))
        .unwrap_or_default();
    let workspace = catalog::workspace(&state.db, &link.team_id)
        .await
        .ok()
        .flatten()
        .and_then(|w| w.team_name)
        .unwrap_or_else(|| link.team_id.clone());
    let body = format!(
        "{error}<p>This links the Slack user <strong>{user}</strong> in <strong>{workspace}</strong> to a SonarQube account. \
<strong>Only go on if you ran {command} connect yourself just now</strong>; if someone sent you this link, close this page.</p>\
<p>Paste a SonarQube <strong>user token</strong> so sonar-slack can check that you may Browse the projects you subscribe channels to. It is stored encrypted and used for nothing else.</p>\
<form method=\"post\" autocomplete=\"off\">\
<input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
<label for=\"connection\">SonarQube server</label><select id=\"connection\" name=\"connection\">{options}</select>\
<label for=\"sonar_token\">User token</label><input id=\"sonar_token\" name=\"sonar_token\" type=\"password\" required autocomplete=\"off\" spellcheck=\"false\">\
<p class=\"hint\">Create one in SonarQube under My Account → Security → Generate Tokens (type: User token).</p>\
<button type=\"submit\">Link my account</button></form>",
        user = esc(&link.slack_user_id),
        workspace = esc(&workspace),
        command = esc(&state.app.command),
        csrf = esc(&csrf),
    );
    let mut response = page(status, "Link your SonarQube account", &body);
    let cookie = Cookie::build(CSRF_COOKIE, csrf)
        .path(state.app.cookie_path("/connect"))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.app.secure_cookies())
        .finish();
    let _ = response.add_cookie(&cookie);
    response
}

fn gone() -> HttpResponse {
    message(
        StatusCode::GONE,
        "This link was already used",
        "Each link works once. Run the connect command in Slack again for a new one.",
    )
}

fn log_db(e: sea_orm::DbErr) {
    tracing::error!(error = %e, "the database failed while linking an account");
}

fn unavailable(e: sea_orm::DbErr) -> HttpResponse {
    log_db(e);
    message(
        StatusCode::SERVICE_UNAVAILABLE,
        "Try again in a moment",
        "The database did not answer; nothing was stored.",
    )
}
