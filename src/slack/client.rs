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
    if err.is_connect() {
        TransportFailure::NotSent(format!("cannot reach Slack: {err}"))
    } else if err.is_timeout() {
        TransportFailure::Ambiguous(format!("Slack did not answer in time: {err}"))
    } else if err.is_builder() {
        TransportFailure::NotSent(format!("bad Slack request: {err}"))
    } else {
        TransportFailure::Ambiguous(format!("the request to Slack failed: {err}"))
    }
}
