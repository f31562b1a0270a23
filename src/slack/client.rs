//! `chat.postMessage` over reqwest: JSON with `charset=utf-8`, a Bearer bot token, and an answer
//! reduced to the [`SlackReply`] the domain judges.

use std::time::Duration;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::domain::delivery::{SlackReply, TransportFailure};
use crate::domain::message::SlackMessage;

#[derive(Debug, Clone)]
pub struct SlackClient {
    http: reqwest::Client,
    base_url: String,
}

#[derive(Deserialize)]
struct ApiAnswer {
    ok: Option<bool>,
    error: Option<String>,
    ts: Option<String>,
}

impl SlackClient {
    pub fn new(base_url: &str, timeout: Duration) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("sonar-slack/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
        })
    }

    pub(super) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub(super) fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Posts `message` to `channel`. With `text_only`, the blocks are left out (the fallback used
    /// when Slack refuses the blocks).
    pub async fn post_message(
        &self,
        token: &SecretString,
        channel: &str,
        message: &SlackMessage,
        text_only: bool,
    ) -> Result<SlackReply, TransportFailure> {
        let mut body = serde_json::json!({
            "channel": channel,
            "text": message.text,
            "unfurl_links": false,
            "unfurl_media": false,
        });
        if !text_only {
            body["blocks"] = message.blocks.clone();
        }
        let bytes = serde_json::to_vec(&body)
            .map_err(|e| TransportFailure::NotSent(format!("cannot encode the message: {e}")))?;
        let response = self
            .http
            .post(format!("{}/chat.postMessage", self.base_url))
            .header(AUTHORIZATION, format!("Bearer {}", token.expose_secret()))
            .header(CONTENT_TYPE, "application/json; charset=utf-8")
            .body(bytes)
            .send()
            .await
            .map_err(transport_failure)?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = response.text().await.map_err(|e| {
            TransportFailure::Ambiguous(format!("reading Slack's answer failed: {e}"))
        })?;
        let answer: Option<ApiAnswer> = serde_json::from_str(&text).ok();
        Ok(SlackReply {
            status,
            retry_after,
            ok: answer.as_ref().and_then(|a| a.ok),
            error: answer.as_ref().and_then(|a| a.error.clone()),
            ts: answer.and_then(|a| a.ts),
        })
    }
}

/// A connection that was never made cannot have posted; anything later might have.
fn transport_failure(err: reqwest::Error) -> TransportFailure {
    let err = err.without_url();
    let why = with_causes(&err);
    if err.is_connect() {
        TransportFailure::NotSent(format!("cannot reach Slack: {why}"))
    } else if err.is_timeout() {
        TransportFailure::Ambiguous(format!("Slack did not answer in time: {why}"))
    } else if err.is_builder() {
        TransportFailure::NotSent(format!("bad Slack request: {why}"))
    } else {
        TransportFailure::Ambiguous(format!("the request to Slack failed: {why}"))
    }
}

/// The error and its causes ("error sending request: client error (Connect): tcp connect error:
/// Connection refused"), so the reason says what actually went wrong. URLs are already stripped,
/// and request errors carry no headers, so no token can appear.
fn with_causes(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        let shown = c.to_string();
        if !text.ends_with(&shown) {
            text.push_str(": ");
            text.push_str(&shown);
        }
        cause = c.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_unreachable_slack_is_not_sent_and_says_why() {
        // A port that was just free: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let client = SlackClient::new(
            &format!("http://127.0.0.1:{port}/api"),
            Duration::from_secs(2),
        )
        .unwrap();
        let message = SlackMessage {
            text: "t".into(),
            blocks: serde_json::json!([]),
        };
        let token = SecretString::from("xoxb-secret-token");
        let Err(TransportFailure::NotSent(why)) =
            client.post_message(&token, "C1", &message, false).await
        else {
            panic!("a closed port cannot have posted");
        };
        assert!(why.starts_with("cannot reach Slack: "), "{why}");
        assert!(
            why.to_lowercase().contains("connection refused"),
            "the cause is named: {why}"
        );
        assert!(!why.contains("xoxb") && !why.contains("127.0.0.1"), "{why}");
    }
}
