//! `conversations.info`: a channel's privacy and the bot's membership, as the bot sees them.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::auth::authenticate;
use super::failure::Failure;
use super::request::params;
use super::{FakeSlack, Shared};

/// How a channel looks to the bot; channels never set are public and the bot is not in them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChannelInfo {
    pub private: bool,
    pub bot_is_member: bool,
}

impl FakeSlack {
    /// Describes `channel` (an id) for `conversations.info`, in every workspace.
    pub fn set_channel(&self, channel: &str, info: ChannelInfo) {
        self.lock().channels.insert(channel.to_owned(), info);
    }
}

/// GET or POST with `channel` in the query or a form body, and a Bearer bot token.
pub(super) fn info(
    req: &HttpRequest,
    body: Result<web::Bytes, Failure>,
    shared: &Shared,
) -> HttpResponse {
    match describe(req, body, shared) {
        Ok(reply) => HttpResponse::Ok().json(reply),
        Err(failure) => failure.respond().0,
    }
}

fn describe(
    req: &HttpRequest,
    body: Result<web::Bytes, Failure>,
    shared: &Shared,
) -> Result<Value, Failure> {
    authenticate(req, shared)?;
    let params = params(req, &body?)?;
    let channel = params.get("channel").map(|c| c.trim());
    let channel = channel
        .filter(|c| !c.is_empty())
        .ok_or_else(|| Failure::error("channel_not_found"))?;
    let info = shared.lock().channels.get(channel).copied();
    let info = info.unwrap_or_default();
    // A private channel is invisible to a bot that is not in it.
    if info.private && !info.bot_is_member {
        return Err(Failure::error("channel_not_found"));
    }
    // Private channels made before March 2021 have `G` ids: `is_group` rather than `is_channel`.
    let legacy_group = channel.starts_with('G');
    Ok(json!({
        "ok": true,
        "channel": {
            "id": channel,
            "is_channel": !legacy_group,
            "is_group": legacy_group,
            "is_im": false,
            "is_private": info.private,
            "is_member": info.bot_is_member,
            "is_archived": false,
        },
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::super::test_support::{TOKEN, fake};
    use super::super::{FakeSlack, FakeSlackConfig};
    use super::ChannelInfo;

    /// `conversations.info` by GET with `channel` in the query, or by POST as a form.
    async fn info(slack: &FakeSlack, token: Option<&str>, channel: &str, post: bool) -> Value {
        let url = format!("{}/conversations.info", slack.api_url());
        let client = reqwest::Client::new();
        let request = if post {
            client.post(url).form(&[("channel", channel)])
        } else {
            client.get(url).query(&[("channel", channel)])
        };
        let request = match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    #[tokio::test]
    async fn channels_as_the_bot_sees_them() {
        let slack = fake(FakeSlackConfig::default());
        let private = |bot_is_member| ChannelInfo {
            private: true,
            bot_is_member,
        };
        slack.set_channel("CPRIVIN", private(true));
        slack.set_channel("CPRIVOUT", private(false));
        let public_member = ChannelInfo {
            private: false,
            bot_is_member: true,
        };
        slack.set_channel("CPUBIN", public_member);

        assert_eq!(
            info(&slack, None, "CPUBIN", false).await["error"],
            "not_authed"
        );
        let bad = info(&slack, Some("xoxb-nope"), "CPUBIN", true).await;
        assert_eq!(
            (&bad["ok"], &bad["error"]),
            (&false.into(), &"invalid_auth".into())
        );

        for post in [false, true] {
            let unknown = info(&slack, Some(TOKEN), "CNEW", post).await;
            assert_eq!(unknown["ok"], true);
            let channel = &unknown["channel"];
            assert_eq!(channel["id"], "CNEW");
            assert_eq!(
                (&channel["is_private"], &channel["is_member"]),
                (&false.into(), &false.into())
            );
            assert_eq!(
                (&channel["is_channel"], &channel["is_im"]),
                (&true.into(), &false.into())
            );

            let member = &info(&slack, Some(TOKEN), "CPUBIN", post).await["channel"];
            assert_eq!(
                (&member["is_private"], &member["is_member"]),
                (&false.into(), &true.into())
            );

            let inside = &info(&slack, Some(TOKEN), "CPRIVIN", post).await["channel"];
            assert_eq!(
                (&inside["is_private"], &inside["is_member"]),
                (&true.into(), &true.into())
            );

            let outside = info(&slack, Some(TOKEN), "CPRIVOUT", post).await;
            assert_eq!(
                (&outside["ok"], &outside["error"]),
                (&false.into(), &"channel_not_found".into())
            );

            let missing = info(&slack, Some(TOKEN), " ", post).await;
            assert_eq!(missing["error"], "channel_not_found");
        }
    }

    #[tokio::test]
    async fn json_bodies_carry_no_arguments_and_legacy_private_ids_are_groups() {
        let slack = fake(FakeSlackConfig::default());
        let reply: Value = reqwest::Client::new()
            .post(format!("{}/conversations.info", slack.api_url()))
            .bearer_auth(TOKEN)
            .json(&serde_json::json!({ "channel": "C1" }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(reply["error"], "channel_not_found");
        slack.set_channel(
            "G1",
            ChannelInfo {
                private: true,
                bot_is_member: true,
            },
        );
        let group = &info(&slack, Some(TOKEN), "G1", false).await["channel"];
        assert_eq!(
            (&group["is_channel"], &group["is_group"]),
            (&false.into(), &true.into())
        );
    }
}
