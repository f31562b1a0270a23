//! Test helpers shared by the fake's own tests: a started fake and raw HTTP calls to it.

use serde_json::{Value, json};

use super::{FakeSlack, FakeSlackConfig};

pub(super) const TOKEN: &str = "xoxb-good";
pub(super) const JSON: &str = "application/json; charset=utf-8";

pub(super) struct Reply {
    pub status: u16,
    pub retry_after: Option<String>,
    pub raw: String,
    pub json: Value,
}

/// A fake accepting `TOKEN` for team `T1`.
pub(super) fn fake(config: FakeSlackConfig) -> FakeSlack {
    let slack = FakeSlack::start(config).unwrap();
    slack.add_token(TOKEN, "T1");
    slack
}

/// POSTs `body` to the Web API `method`, with `token` as Bearer if given.
pub(super) async fn call(
    slack: &FakeSlack,
    method: &str,
    token: Option<&str>,
    content_type: &str,
    body: &[u8],
) -> Reply {
    let url = format!("{}/{method}", slack.api_url());
    let request = reqwest::Client::new()
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, content_type);
    let request = match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    };
    let response = request.body(body.to_vec()).send().await.unwrap();
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let raw = response.text().await.unwrap();
    let json = serde_json::from_str(&raw).unwrap_or(Value::Null);
    Reply {
        status,
        retry_after,
        raw,
        json,
    }
}

pub(super) async fn post(slack: &FakeSlack, channel: &str, text: &str) -> Reply {
    let body = serde_json::to_vec(&json!({ "channel": channel, "text": text })).unwrap();
    call(slack, "chat.postMessage", Some(TOKEN), JSON, &body).await
}
