//! The other Slack calls the app makes: `conversations.info` (may the bot post in a channel?) and
//! answers to a slash command's `response_url`.

use reqwest::header::AUTHORIZATION;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::SlackClient;

/// What `conversations.info` says of a channel, from the bot's point of view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelAccess {
    /// Public, or private with the bot in it: posts will go through.
    Postable { private: bool, member: bool },
    /// Slack hides private channels the bot is not in (`channel_not_found`).
    Hidden,
    /// Slack refused the question itself (e.g. `missing_scope`); the post may still work.
    Unknown(String),
}

#[derive(Deserialize)]
struct Info {
    ok: bool,
    error: Option<String>,
    channel: Option<InfoChannel>,
}

#[derive(Deserialize)]
struct InfoChannel {
    #[serde(default)]
    is_private: bool,
    #[serde(default)]
    is_member: bool,
    #[serde(default)]
    is_im: bool,
}

impl SlackClient {
    /// Asks Slack whether the bot can see `channel`.
    pub async fn channel_access(&self, token: &SecretString, channel: &str) -> ChannelAccess {
        let reply = self
            .http()
            .get(format!("{}/conversations.info", self.base_url()))
            .header(AUTHORIZATION, format!("Bearer {}", token.expose_secret()))
            .query(&[("channel", channel)])
            .send()
            .await;
        let info: Info = match reply {
            Ok(r) => match r.json().await {
                Ok(info) => info,
                Err(e) => return ChannelAccess::Unknown(e.without_url().to_string()),
            },
            Err(e) => return ChannelAccess::Unknown(e.without_url().to_string()),
        };
        match (info.ok, info.error.as_deref(), info.channel) {
            (true, _, Some(c)) => ChannelAccess::Postable {
                private: c.is_private || c.is_im,
                member: c.is_member,
            },
            (false, Some("channel_not_found"), _) => ChannelAccess::Hidden,
            (_, error, _) => ChannelAccess::Unknown(error.unwrap_or("no channel").to_owned()),
        }
    }

    /// Posts a reply to a slash command's `response_url` (Slack allows 5 within 30 minutes).
    pub async fn respond(
        &self,
        response_url: &str,
        reply: &serde_json::Value,
    ) -> Result<(), String> {
        let r = self
            .http()
            .post(response_url)
            .json(reply)
            .send()
            .await
            .map_err(|e| format!("cannot reach the response_url: {}", e.without_url()))?;
        if r.status().is_success() {
            Ok(())
        } else {
            Err(format!(
                "the response_url answered HTTP {}",
                r.status().as_u16()
            ))
        }
    }
}
