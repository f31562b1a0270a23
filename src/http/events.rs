//! `POST /slack/events` (Events API: `url_verification`, `app_uninstalled`, `tokens_revoked`, each
//! `event_id` handled once) and `POST /slack/interactions` (acknowledged; our buttons are links).

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::AppState;
use super::error::ApiError;
use super::slack_auth::verified_body;
use crate::domain::types::installation_keys;
use crate::store::slack_events::Claim;
use crate::store::{installs, links, slack_events};

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    challenge: Option<String>,
    #[serde(default)]
    team_id: Option<String>,
    #[serde(default)]
    enterprise_id: Option<String>,
    #[serde(default)]
    is_enterprise_install: bool,
    #[serde(default)]
    event_id: Option<String>,
    #[serde(default)]
    event: Option<Event>,
}

#[derive(Deserialize)]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    tokens: Option<Revoked>,
}

#[derive(Deserialize, Default)]
struct Revoked {
    #[serde(default)]
    oauth: Vec<String>,
    #[serde(default)]
    bot: Vec<String>,
}

pub async fn receive(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body = verified_body(&req, payload, &state, "a Slack event (JSON)").await?;
    let envelope: Envelope = serde_json::from_slice(&body).map_err(|e| {
        ApiError::BadRequest(format!("the body is not a Slack Events API envelope: {e}"))
    })?;
    match envelope.kind.as_str() {
        "url_verification" => {
            let challenge = envelope
                .challenge
                .filter(|c| !c.is_empty())
                .ok_or_else(|| {
                    ApiError::BadRequest("a url_verification without `challenge`".into())
                })?;
            Ok(HttpResponse::Ok().json(serde_json::json!({ "challenge": challenge })))
        }
        "event_callback" => callback(&req, envelope, &state).await,
        other => {
            tracing::info!(
                kind = other,
                "Slack envelope of a kind we do not use; acknowledged"
            );
            Ok(ok("ignored"))
        }
    }
}

async fn callback(
    req: &HttpRequest,
    envelope: Envelope,
    state: &AppState,
) -> Result<HttpResponse, ApiError> {
    let event = envelope
        .event
        .as_ref()
        .ok_or_else(|| ApiError::BadRequest("an event_callback without `event`".into()))?;
    let event_id = envelope
        .event_id
        .as_deref()
        .filter(|id| !id.is_empty())
        .ok_or_else(|| ApiError::BadRequest("an event_callback without `event_id`".into()))?;
    let team = installation_of(&envelope);
    let db_down = |e: sea_orm::DbErr| {
        ApiError::Unavailable(format!(
            "the database does not answer ({e}); Slack will retry"
        ))
    };
    // One handler per event: a retry arriving while the first delivery is handled, or after it,
    // is only acknowledged. A failed handling gives the claim up for Slack's retry.
    let claim = slack_events::claim(&state.db, event_id, team.as_deref(), &event.kind)
        .await
        .map_err(db_down)?;
    if claim == Claim::Taken {
        let retry = req
            .headers()
            .get("X-Slack-Retry-Num")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-");
        tracing::info!(
            event_id,
            retry,
            "event already handled or being handled; acknowledged"
        );
        return Ok(ok("duplicate"));
    }
    if let Err(e) = apply(state, team.as_deref(), event).await {
        if let Err(release) = slack_events::release(&state.db, event_id).await {
            tracing::warn!(error = %release, "cannot give up the event's claim; a retry takes it over in 30 s");
        }
        return Err(db_down(e));
    }
    slack_events::handled(&state.db, event_id)
        .await
        .map_err(db_down)?;
    crate::telemetry::Counters::bump(&state.counters.slack_events);
    Ok(ok("handled"))
}

async fn apply(state: &AppState, team: Option<&str>, event: &Event) -> Result<(), sea_orm::DbErr> {
    let keep = state.app.keep_subscriptions_on_uninstall;
    match (event.kind.as_str(), team) {
        ("app_uninstalled", Some(team)) => {
            let reason = "the app was uninstalled from the workspace; reinstall it to resume";
            let done = installs::uninstall(&state.db, team, reason, keep).await?;
            tracing::warn!(
                team,
                failed = done.failed_deliveries,
                removed_subscriptions = done.removed_subscriptions,
                "the app was uninstalled; the workspace is disabled"
            );
        }
        ("tokens_revoked", _) => {
            let revoked = event.tokens.as_ref();
            let bots = revoked.map(|r| r.bot.as_slice()).unwrap_or_default();
            if !bots.is_empty() {
                let reason = "Slack revoked the bot token; reinstall the app to resume";
                let mut teams: Vec<String> = team.map(str::to_owned).into_iter().collect();
                for bot in bots {
                    for ws in installs::by_bot_user(&state.db, bot).await? {
                        teams.push(ws.team_id);
                    }
                }
                teams.sort();
                teams.dedup();
                for t in &teams {
                    let done = installs::uninstall(&state.db, t, reason, keep).await?;
                    tracing::warn!(team = %t, failed = done.failed_deliveries, "bot token revoked; the workspace is disabled");
                }
            }
            let users = revoked.map(|r| r.oauth.as_slice()).unwrap_or_default();
            if !users.is_empty() {
                let dropped = links::unlink_users(&state.db, team, users).await?;
                tracing::info!(
                    users = users.len(),
                    dropped,
                    "user tokens revoked; their links are dropped"
                );
            }
        }
        (kind, _) => tracing::info!(kind, "event we do not use; acknowledged"),
    }
    Ok(())
}

/// The workspace key the event is about: the enterprise for organization-wide installs.
fn installation_of(e: &Envelope) -> Option<String> {
    installation_keys(
        e.team_id.as_deref(),
        e.enterprise_id.as_deref(),
        e.is_enterprise_install,
    )
    .first()
    .map(|k| (*k).to_owned())
}

fn ok(outcome: &str) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "ok": true, "outcome": outcome }))
}

/// Button clicks and other interactions. Our only buttons open links, but Slack still reports the
/// click and shows a warning unless it is acknowledged.
pub async fn interaction(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    verified_body(&req, payload, &state, "a Slack interaction payload (form)").await?;
    Ok(HttpResponse::Ok().finish())
}
