//! `chat.postMessage`: scripted replies, per-channel pacing, and the record of posts and attempts.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::auth::authenticate;
use super::failure::Failure;
use super::request::{header, non_empty_str, parse_body};
use super::{FakeSlack, Shared};

/// A reply queued for the next valid post to a channel, served before pacing and acceptance.
#[derive(Debug, Clone)]
pub enum Scripted {
    /// HTTP 200 `{"ok":false,"error":"<code>"}`.
    Error(String),
    /// This status with an HTML page, like a Slack outage (invalid codes become 500).
    Status(u16),
    /// HTTP 429 `ratelimited`; `Retry-After` is sent verbatim when `Some`, garbage included.
    RateLimited { retry_after: Option<String> },
    /// Waits, then answers normally: the post is accepted even if the client gave up.
    Slow { delay: Duration },
}

/// A post the fake accepted (`ok:true`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReceivedMessage {
    pub team_id: String,
    pub channel: String,
    pub text: String,
    /// `Null` if absent; a JSON-encoded string (form posts) is decoded.
    pub blocks: Value,
    pub ts: String,
    pub received_at: DateTime<Utc>,
    /// The whole request: the JSON body, or the form fields as an object of strings.
    pub body: Value,
    /// Warnings of the reply, e.g. `missing_charset`.
    pub warnings: Vec<String>,
}

/// One `chat.postMessage` request and what was answered.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Attempt {
    pub channel: Option<String>,
    /// The token's workspace, when it authenticated.
    pub team_id: Option<String>,
    pub status: u16,
    pub error: Option<String>,
    /// The message `ts`, when accepted.
    pub ts: Option<String>,
    pub at: DateTime<Utc>,
}

impl FakeSlack {
    /// Queues replies consumed in order by the next valid, authenticated posts to `channel`.
    pub fn script(&self, channel: &str, replies: impl IntoIterator<Item = Scripted>) {
        let mut state = self.lock();
        let queue = state.scripts.entry(channel.to_owned()).or_default();
        queue.extend(replies);
    }

    /// `chat.postMessage` requests received so far, including those not answered yet (a slow
    /// reply is under way once this counts it).
    pub fn posts_arrived(&self) -> usize {
        self.lock().arrived
    }

    /// Accepted posts, in arrival order.
    pub fn messages(&self) -> Vec<ReceivedMessage> {
        self.lock().messages.clone()
    }

    pub fn messages_for(&self, channel: &str) -> Vec<ReceivedMessage> {
        let state = self.lock();
        state
            .messages
            .iter()
            .filter(|m| m.channel == channel)
            .cloned()
            .collect()
    }

    /// Every `chat.postMessage` request with what was answered, in answer order.
    pub fn attempts(&self) -> Vec<Attempt> {
        self.lock().attempts.clone()
    }
}

impl Shared {
    /// Paces per (team, channel), then records the message and its attempt and wakes waiters.
    fn accept(&self, mut msg: ReceivedMessage) -> Result<Value, Failure> {
        let config = &self.config;
        let mut state = self.lock();
        let key = (msg.team_id.clone(), msg.channel.clone());
        let min_gap = config.per_channel_interval.saturating_sub(config.tolerance);
        if let Some(last) = state.last_accepted.get(&key)
            && last.elapsed() < min_gap
        {
            let retry_after = Some(config.retry_after_secs.to_string());
            return Err(Failure::RateLimited(retry_after));
        }
        state.last_accepted.insert(key, Instant::now());
        if state.without_bodies {
            msg.body = Value::Null;
            msg.blocks = Value::Null;
        }
        msg.received_at = Utc::now();
        let micros = msg.received_at.timestamp_micros();
        let micros = micros.max(state.last_ts_micros + 1);
        state.last_ts_micros = micros;
        msg.ts = format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000);
        let warnings = (!msg.warnings.is_empty()).then_some(&msg.warnings);
        let mut reply = json!({
            "ok": true, "channel": msg.channel, "ts": msg.ts,
            "message": {
                "type": "message", "subtype": "bot_message", "text": msg.text, "blocks": msg.blocks,
                "user": "UFAKEBOT", "bot_id": "BFAKE", "team": msg.team_id, "ts": msg.ts,
            },
            "warning": warnings.map(|w| w.join(",")),
            "response_metadata": warnings.map(|w| json!({ "warnings": w })),
        });
        if let Value::Object(fields) = &mut reply {
            fields.retain(|_, value| !value.is_null());
        }
        state.attempts.push(Attempt {
            channel: Some(msg.channel.clone()),
            team_id: Some(msg.team_id.clone()),
            status: 200,
            error: None,
            ts: Some(msg.ts.clone()),
            at: msg.received_at,
        });
        state.messages.push(msg);
        self.accepted.send_replace(state.messages.len());
        self.changed.notify_all();
        Ok(reply)
    }
}

pub(super) async fn post_message(
    req: &HttpRequest,
    body: Result<web::Bytes, Failure>,
    shared: &Shared,
) -> HttpResponse {
    shared.lock().arrived += 1;
    let parsed = body.and_then(|bytes| parse_body(header(req, CONTENT_TYPE), &bytes));
    let channel = parsed
        .as_ref()
        .ok()
        .and_then(|(body, _)| non_empty_str(body, "channel"));
    let team_id = authenticate(req, shared);
    let known_team = team_id.as_ref().ok().cloned();
    match deliver(team_id, parsed, shared).await {
        Ok(reply) => HttpResponse::Ok().json(reply),
        Err(failure) => {
            let (response, error) = failure.respond();
            let (status, at) = (response.status().as_u16(), Utc::now());
            let attempt = Attempt {
                channel,
                team_id: known_team,
                status,
                error,
                ts: None,
                at,
            };
            shared.lock().attempts.push(attempt);
            response
        }
    }
}

/// Slack's order: auth, the request itself, then scripted replies, then pacing.
async fn deliver(
    team_id: Result<String, Failure>,
    parsed: Result<(Value, Vec<String>), Failure>,
    shared: &Shared,
) -> Result<Value, Failure> {
    let team_id = team_id?;
    let (body, warnings) = parsed?;
    let channel =
        non_empty_str(&body, "channel").ok_or_else(|| Failure::error("channel_not_found"))?;
    let text = non_empty_str(&body, "text").unwrap_or_default();
    let blocks = parse_blocks(body.get("blocks"))?;
    if text.is_empty() && blocks.as_array().is_none_or(Vec::is_empty) {
        return Err(Failure::error("no_text"));
    }
    let next = shared
        .lock()
        .scripts
        .get_mut(&channel)
        .and_then(VecDeque::pop_front);
    match next {
        Some(Scripted::Error(code)) => return Err(Failure::Error(code)),
        Some(Scripted::Status(code)) => return Err(Failure::Status(code)),
        Some(Scripted::RateLimited { retry_after }) => {
            return Err(Failure::RateLimited(retry_after));
        }
        Some(Scripted::Slow { delay }) => tokio::time::sleep(delay).await,
        None => {}
    }
    let (ts, received_at) = (String::new(), Utc::now());
    shared.accept(ReceivedMessage {
        team_id,
        channel,
        text,
        blocks,
        ts,
        received_at,
        body,
        warnings,
    })
}

/// `blocks` is an array or a JSON-encoded one (form posts); else `invalid_blocks_format`.
fn parse_blocks(blocks: Option<&Value>) -> Result<Value, Failure> {
    let decoded = match blocks {
        None | Some(Value::Null) => return Ok(Value::Null),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(Value::Null),
        Some(Value::String(s)) => serde_json::from_str(s).unwrap_or(Value::Null),
        Some(other) => other.clone(),
    };
    match decoded {
        Value::Array(_) => Ok(decoded),
        _ => Err(Failure::error("invalid_blocks_format")),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::super::test_support::{JSON, TOKEN, call, fake, post};
    use super::super::{FakeSlackConfig, MAX_BODY_BYTES};
    use super::Scripted;

    #[tokio::test]
    async fn scripted_replies_are_consumed_in_order_then_normal() {
        let slack = fake(FakeSlackConfig::default());
        let garbage = Some("soon".to_owned());
        slack.script(
            "C1",
            [
                Scripted::Error("internal_error".into()),
                Scripted::RateLimited {
                    retry_after: garbage,
                },
                Scripted::RateLimited { retry_after: None },
                Scripted::Status(503),
            ],
        );
        assert_eq!(post(&slack, "C2", "other channel").await.json["ok"], true);
        let reply = post(&slack, "C1", "m").await;
        assert_eq!(
            (reply.status, reply.json["error"].as_str()),
            (200, Some("internal_error"))
        );
        let reply = post(&slack, "C1", "m").await;
        assert_eq!(
            (reply.status, reply.retry_after.as_deref()),
            (429, Some("soon"))
        );
        assert_eq!(reply.json["error"], "ratelimited");
        let reply = post(&slack, "C1", "m").await;
        assert_eq!((reply.status, reply.retry_after), (429, None));
        let reply = post(&slack, "C1", "m").await;
        assert_eq!(reply.status, 503);
        assert!(reply.raw.starts_with("<html>"));
        let reply = post(&slack, "C1", "m").await;
        assert_eq!((reply.status, &reply.json["channel"]), (200, &json!("C1")));
        let statuses: Vec<u16> = slack.attempts().iter().map(|a| a.status).collect();
        assert_eq!(statuses, [200, 200, 429, 429, 503, 200]);
        let messages = slack.messages();
        assert!(messages.len() == 2 && messages[0].ts < messages[1].ts);
        assert_eq!(messages[1].ts, reply.json["ts"].as_str().unwrap());
    }

    #[tokio::test]
    async fn second_post_within_interval_is_rate_limited() {
        let per_channel_interval = Duration::from_millis(500);
        let tolerance = Duration::from_millis(100);
        let slack = fake(FakeSlackConfig {
            per_channel_interval,
            tolerance,
            retry_after_secs: 1,
        });
        assert_eq!(post(&slack, "C1", "first").await.status, 200);
        let reply = post(&slack, "C1", "too soon").await;
        assert_eq!(
            (reply.status, reply.retry_after.as_deref()),
            (429, Some("1"))
        );
        assert_eq!(reply.json["error"], "ratelimited");
        assert_eq!(post(&slack, "C2", "other channel").await.status, 200);
        tokio::time::sleep(Duration::from_millis(420)).await;
        assert_eq!(post(&slack, "C1", "later").await.status, 200);
        let texts: Vec<String> = slack
            .messages_for("C1")
            .into_iter()
            .map(|m| m.text)
            .collect();
        assert_eq!(texts, ["first", "later"]);
        assert_eq!(slack.attempts()[1].error.as_deref(), Some("ratelimited"));
    }

    #[tokio::test]
    async fn json_without_charset_is_accepted_with_warning() {
        let slack = fake(FakeSlackConfig::default());
        let body = br#"{"channel":"C1","text":"hi"}"#;
        let reply = call(
            &slack,
            "chat.postMessage",
            Some(TOKEN),
            "application/json",
            body,
        )
        .await
        .json;
        assert_eq!(
            (reply["ok"].as_bool(), reply["warning"].as_str()),
            (Some(true), Some("missing_charset"))
        );
        assert_eq!(
            reply["response_metadata"]["warnings"],
            json!(["missing_charset"])
        );
        assert_eq!(slack.messages()[0].warnings, ["missing_charset"]);
        assert_eq!(post(&slack, "C2", "x").await.json.get("warning"), None);
    }

    #[tokio::test]
    async fn bad_requests_get_slack_errors_and_forms_are_accepted() {
        let slack = fake(FakeSlackConfig::default());
        let cases: [(&str, &[u8], &str); 7] = [
            (JSON, b"{not json", "invalid_json"),
            (JSON, b"[1]", "invalid_json"),
            (JSON, br#"{"text":"hi"}"#, "channel_not_found"),
            (JSON, br#"{"channel":"C1","text":" "}"#, "no_text"),
            (
                JSON,
                br#"{"channel":"C1","text":"hi","blocks":"nope"}"#,
                "invalid_blocks_format",
            ),
            (
                "application/json; charset=latin1",
                br#"{"channel":"C1","text":"hi"}"#,
                "invalid_charset",
            ),
            ("text/csv", b"a,b", "invalid_form_data"),
        ];
        for (content_type, body, error) in cases {
            let reply = call(&slack, "chat.postMessage", Some(TOKEN), content_type, body).await;
            assert_eq!(
                (reply.status, reply.json["error"].as_str()),
                (200, Some(error)),
                "{body:?}"
            );
        }
        let huge = vec![b'x'; MAX_BODY_BYTES + 1];
        assert_eq!(
            call(&slack, "chat.postMessage", Some(TOKEN), JSON, &huge)
                .await
                .status,
            413
        );
        let form = b"channel=C9&text=caf%C3%A9+ok&blocks=%5B%7B%22type%22%3A%22divider%22%7D%5D";
        let form_type = "application/x-www-form-urlencoded";
        assert_eq!(
            call(&slack, "chat.postMessage", Some(TOKEN), form_type, form)
                .await
                .json["ok"],
            true
        );
        let message = &slack.messages()[0];
        assert_eq!(
            (message.text.as_str(), &message.blocks),
            ("café ok", &json!([{ "type": "divider" }]))
        );
        assert_eq!(slack.attempts().len(), 9);
    }

    #[tokio::test]
    async fn slow_reply_times_the_client_out_but_still_posts_and_stop_closes() {
        let slack = fake(FakeSlackConfig::default());
        slack.script(
            "C1",
            [Scripted::Slow {
                delay: Duration::from_millis(300),
            }],
        );
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(50))
            .build()
            .unwrap();
        let url = format!("{}/chat.postMessage", slack.api_url());
        let body = serde_json::to_vec(&json!({ "channel": "C1", "text": "slow" })).unwrap();
        let request = client
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, JSON)
            .bearer_auth(TOKEN);
        assert!(request.body(body).send().await.unwrap_err().is_timeout());
        assert_eq!(
            slack
                .wait_for_messages(1, Duration::from_secs(5))
                .await
                .unwrap()[0]
                .text,
            "slow"
        );
        slack.stop();
        slack.stop();
        assert!(client.post(&url).send().await.is_err());
    }
}
