//! `POST /slack/commands`: verifies the signature, then runs the slash command. The answer goes
//! back inline when it is ready within the ack budget (Slack gives up after 3 s); otherwise an
//! ephemeral "working on it" is sent at once and the answer follows through `response_url`.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::oneshot;

use super::AppState;
use super::error::ApiError;
use super::slack_auth::verified_body;
use crate::slash::{self, Invocation, Reply};

#[derive(Deserialize)]
struct SlashForm {
    #[serde(default)]
    ssl_check: Option<String>,
    #[serde(default)]
    command: Option<String>,
    #[serde(default)]
    text: String,
    team_id: Option<String>,
    #[serde(default)]
    enterprise_id: Option<String>,
    #[serde(default)]
    is_enterprise_install: Option<String>,
    user_id: Option<String>,
    channel_id: Option<String>,
    #[serde(default)]
    response_url: Option<String>,
}

pub async fn receive(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body = verified_body(&req, payload, &state, "a slash command (form)").await?;
    let form: SlashForm = serde_urlencoded::from_bytes(&body)
        .map_err(|e| ApiError::BadRequest(format!("the body is not a slash command form: {e}")))?;
    if form.ssl_check.as_deref() == Some("1") {
        return Ok(HttpResponse::Ok().finish());
    }
    let (Some(team_id), Some(user_id), Some(channel_id)) =
        (form.team_id, form.user_id, form.channel_id)
    else {
        return Err(ApiError::BadRequest(
            "a slash command needs team_id, user_id and channel_id".into(),
        ));
    };
    let expected = &state.app.command;
    if let Some(command) = form.command.as_deref()
        && command != expected
    {
        return Ok(ephemeral(&format!(
            "This endpoint serves `{expected}`, not `{command}`. Check the slash command in the app's settings (or SONAR_SLACK_SLACK_COMMAND)."
        )));
    }
    let inv = Invocation {
        team_id,
        enterprise_id: form.enterprise_id.filter(|e| !e.is_empty()),
        is_enterprise_install: form.is_enterprise_install.as_deref() == Some("true"),
        user_id,
        channel_id,
        text: form.text,
    };
    let response_url = form
        .response_url
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"));
    crate::telemetry::Counters::bump(&state.counters.slash_commands);
    let shared: Arc<AppState> = state.clone().into_inner();
    let (tx, mut rx) = oneshot::channel::<Reply>();
    let late_url = response_url.clone();
    actix_web::rt::spawn(async move {
        let reply = slash::run(&shared, &inv).await;
        if let Err(reply) = tx.send(reply) {
            // The handler already acknowledged: the answer goes through response_url.
            send_later(&shared, late_url.as_deref(), reply).await;
        }
    });
    let reply = match tokio::time::timeout(state.app.ack_budget, &mut rx).await {
        Ok(Ok(reply)) => reply,
        Ok(Err(_)) => {
            return Ok(ephemeral(
                "Something went wrong on sonar-slack's side while running this command; nothing was changed. Try again in a minute.",
            ));
        }
        Err(_) => {
            rx.close();
            match rx.try_recv() {
                Ok(reply) => reply,
                Err(_) => {
                    return Ok(ephemeral(
                        "Working on it (checking with SonarQube)… the answer follows in a moment.",
                    ));
                }
            }
        }
    };
    Ok(answer_now(&state, response_url.as_deref(), reply))
}

/// The inline answer; when there is both a public and a private part, the private one follows
/// through `response_url`.
fn answer_now(
    state: &web::Data<AppState>,
    response_url: Option<&str>,
    reply: Reply,
) -> HttpResponse {
    match (reply.public, reply.private) {
        (Some(public), private) => {
            if let Some(private) = private {
                let shared = state.clone().into_inner();
                let url = response_url.map(str::to_owned);
                actix_web::rt::spawn(async move {
                    send_later(&shared, url.as_deref(), Reply::private(private)).await;
                });
            }
            HttpResponse::Ok().json(json!({ "response_type": "in_channel", "text": public }))
        }
        (None, Some(private)) => ephemeral(&private),
        (None, None) => ephemeral("Done."),
    }
}

async fn send_later(state: &AppState, response_url: Option<&str>, reply: Reply) {
    let Some(url) = response_url else {
        tracing::warn!("a slash command answer was ready too late and there is no response_url");
        return;
    };
    let mut parts = Vec::new();
    if let Some(p) = reply.public {
        parts.push(json!({ "response_type": "in_channel", "text": p }));
    }
    if let Some(p) = reply.private {
        parts.push(json!({ "response_type": "ephemeral", "replace_original": false, "text": p }));
    }
    for part in parts {
        if let Err(e) = state.shared.slack.respond(url, &part).await {
            tracing::warn!(error = %e, "cannot answer through response_url");
        }
    }
}

fn ephemeral(text: &str) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "response_type": "ephemeral", "text": text }))
}
