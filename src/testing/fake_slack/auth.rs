//! Bot tokens: registering and revoking them, Bearer authentication, and `auth.test`.

use actix_web::http::header::AUTHORIZATION;
use actix_web::{HttpRequest, HttpResponse};
use serde_json::json;

use super::failure::Failure;
use super::request::header;
use super::{FakeSlack, Shared};

impl FakeSlack {
    /// Accepts `token` as a bot token of `team_id` (un-revoking it).
    pub fn add_token(&self, token: &str, team_id: &str) {
        let team_id = Some(team_id.to_owned());
        self.lock().tokens.insert(token.to_owned(), team_id);
    }

    /// Afterwards `token` gets `token_revoked`, known before or not.
    pub fn revoke_token(&self, token: &str) {
        self.lock().tokens.insert(token.to_owned(), None);
    }
}

/// The team of the request's Bearer token: `not_authed`, `invalid_auth` or `token_revoked`.
pub(super) fn authenticate(req: &HttpRequest, shared: &Shared) -> Result<String, Failure> {
    if !req.headers().contains_key(AUTHORIZATION) {
        return Err(Failure::error("not_authed"));
    }
    let token = match header(req, AUTHORIZATION).and_then(|h| h.trim().split_once(' ')) {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => "",
    };
    match shared.lock().tokens.get(token) {
        Some(Some(team_id)) => Ok(team_id.clone()),
        Some(None) => Err(Failure::error("token_revoked")),
        None => Err(Failure::error("invalid_auth")),
    }
}

pub(super) fn auth_test(req: &HttpRequest, shared: &Shared) -> HttpResponse {
    match authenticate(req, shared) {
        Ok(team_id) => HttpResponse::Ok().json(json!({
            "ok": true, "url": "https://fake.slack.com/", "team": "Fake", "user": "fakebot",
            "team_id": team_id, "user_id": "UFAKEBOT", "bot_id": "BFAKE",
        })),
        Err(failure) => failure.respond().0,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::FakeSlackConfig;
    use super::super::test_support::{JSON, TOKEN, call, fake};

    #[tokio::test]
    async fn auth_errors_auth_test_and_unknown_methods() {
        let slack = fake(FakeSlackConfig::default());
        slack.add_token("xoxb-old", "T2");
        slack.revoke_token("xoxb-old");
        let body = serde_json::to_vec(&json!({ "channel": "C1", "text": "hi" })).unwrap();
        let bad = [
            (None, "not_authed"),
            (Some("xoxb-nope"), "invalid_auth"),
            (Some("xoxb-old"), "token_revoked"),
        ];
        for (token, error) in bad {
            let reply = call(&slack, "chat.postMessage", token, JSON, &body).await;
            assert_eq!(
                (reply.status, reply.json["error"].as_str()),
                (200, Some(error))
            );
            assert_eq!(
                call(&slack, "auth.test", token, JSON, b"").await.json["error"],
                error
            );
        }
        let reply = call(&slack, "auth.test", Some(TOKEN), JSON, b"").await.json;
        assert_eq!(
            (reply["ok"].as_bool(), reply["team_id"].as_str()),
            (Some(true), Some("T1"))
        );
        let reply = call(&slack, "chat.nope", Some(TOKEN), JSON, &body).await;
        assert_eq!(reply.json["error"], "unknown_method");
        assert!(slack.messages().is_empty());
        let attempts = slack.attempts();
        assert_eq!(attempts.len(), 3);
        assert!(
            attempts
                .iter()
                .all(|a| a.channel.as_deref() == Some("C1") && a.status == 200)
        );
    }
}
