//! Harness for the Slack app tests: the service with the fake Slack and a fake SonarQube, and a
//! "Slack" that signs its requests as the real one does.

use std::time::Duration;

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use sea_orm::DatabaseConnection;
use serde_json::{Value, json};
use sonar_slack::domain::signature::sonar_signature;
use sonar_slack::domain::slack_signature::slack_signature;
use sonar_slack::testing::fake_slack::{FakeSlack, InstallGrant};
use sonar_slack::testing::fake_sonar::FakeSonar;

use super::helpers::{FAILED, PASSED, edit};

pub const SIGNING_SECRET: &str = "slack-signing-secret-0123456789ab";
pub const CLIENT_ID: &str = "1111.2222";
pub const CLIENT_SECRET: &str = "slack-client-secret-abcdef";
pub const WEBHOOK_SECRET: &str = "sonar-webhook-secret-42";
pub const APP_TEAM: &str = "T0APP00001";
pub const BOT_TOKEN: &str = "xoxb-app-bot-token-7777";
pub const BOT_USER: &str = "U0BOT00001";
pub const ALICE: &str = "U0ALICE001";
pub const ALICE_SONAR_TOKEN: &str = "squ_alice_token_5555";
pub const BOB: &str = "U0BOB00001";
pub const BOB_SONAR_TOKEN: &str = "squ_bob_token_6666";
pub const CHANNEL: &str = "C0BUILDS01";
pub const PROJECT_A: &str = "acme:payments-api";
pub const SECRET_PROJECT: &str = "acme:secret-sauce";

/// The Slack side: signs requests with the app's signing secret.
pub struct SlackSide {
    pub base: String,
    pub client: reqwest::Client,
}

/// A browser: no redirects followed, cookies handled by hand.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

impl SlackSide {
    pub fn new(base: &str) -> Self {
        Self {
            base: base.to_owned(),
            client: browser(),
        }
    }

    /// Posts `body` to `path` signed at `now + skew` seconds.
    pub async fn signed(
        &self,
        path: &str,
        body: &[u8],
        content_type: &str,
        skew: i64,
    ) -> reqwest::Response {
        let ts = (chrono::Utc::now().timestamp() + skew).to_string();
        let sig = slack_signature(SIGNING_SECRET.as_bytes(), &ts, body);
        self.client
            .post(format!("{}{path}", self.base))
            .header("Content-Type", content_type)
            .header("X-Slack-Request-Timestamp", ts)
            .header("X-Slack-Signature", sig)
            .body(body.to_vec())
            .send()
            .await
            .expect("request to the service")
    }

    pub fn command_body(user: &str, channel: &str, text: &str, response_url: &str) -> Vec<u8> {
        serde_urlencoded::to_string([
            ("token", "deprecated-verification-token"),
            ("team_id", APP_TEAM),
            ("team_domain", "acme"),
            ("channel_id", channel),
            ("channel_name", "builds"),
            ("user_id", user),
            ("user_name", "someone"),
            ("command", "/sonarqube"),
            ("text", text),
            ("api_app_id", "AFAKEAPP"),
            ("is_enterprise_install", "false"),
            ("response_url", response_url),
            ("trigger_id", "13345224609.738474920.8088930838d88f008e0"),
        ])
        .expect("form")
        .into_bytes()
    }

    /// Runs `/sonarqube <text>` as `user` in `channel`; returns the status and the JSON answer.
    pub async fn command(
        &self,
        user: &str,
        channel: &str,
        text: &str,
        response_url: &str,
    ) -> (u16, Value) {
        let body = Self::command_body(user, channel, text, response_url);
        let res = self
            .signed(
                "/slack/commands",
                &body,
                "application/x-www-form-urlencoded",
                0,
            )
            .await;
        let status = res.status().as_u16();
        let json = res.json().await.unwrap_or(Value::Null);
        (status, json)
    }

    /// Sends an Events API envelope; `retry` sets `X-Slack-Retry-Num`.
    pub async fn event(&self, envelope: &Value) -> (u16, Value) {
        let body = serde_json::to_vec(envelope).expect("json");
        let res = self
            .signed("/slack/events", &body, "application/json", 0)
            .await;
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }
}

pub fn event_callback(event_id: &str, event: Value) -> Value {
    json!({
        "token": "deprecated",
        "team_id": APP_TEAM,
        "api_app_id": "AFAKEAPP",
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": 1_700_000_000,
        "authorizations": [{"team_id": APP_TEAM, "user_id": BOT_USER, "is_bot": true}],
    })
}

/// The fakes, set up as a real Slack app and SonarQube server would be.
pub struct Fakes {
    pub slack: FakeSlack,
    pub sonar: FakeSonar,
}

impl Fakes {
    pub fn start() -> Self {
        let slack = super::helpers::fake_slack();
        slack.set_client(CLIENT_ID, CLIENT_SECRET);
        let mut grant = InstallGrant::team(APP_TEAM, BOT_TOKEN);
        grant.bot_user_id = BOT_USER.into();
        grant.team_name = Some("Acme".into());
        grant.installer_user_id = ALICE.into();
        slack.add_install("code-install-1", grant);
        let sonar = FakeSonar::start().expect("fake sonar");
        sonar.add_user(ALICE_SONAR_TOKEN, "alice", "Alice A.");
        sonar.add_user(BOB_SONAR_TOKEN, "bob", "Bob B.");
        sonar.add_project(PROJECT_A, "Payments API", "OK");
        sonar.add_project(SECRET_PROJECT, "Secret Sauce", "ERROR");
        sonar.grant_browse("alice", PROJECT_A);
        Self { slack, sonar }
    }

    pub fn stop(&self) {
        self.slack.stop();
        self.sonar.stop();
    }
}

/// Installs the app through `/slack/install` and the callback, as a browser would.
/// Returns the callback's status and page.
pub async fn install(base: &str, code: &str) -> (u16, String) {
    let browser = browser();
    let start = browser
        .get(format!("{base}/slack/install"))
        .send()
        .await
        .expect("install");
    assert_eq!(start.status(), 302, "install redirects to Slack");
    let location = start.headers()[LOCATION]
        .to_str()
        .expect("location")
        .to_owned();
    let cookie = cookie_of(&start, "sonar_slack_install");
    let url = reqwest::Url::parse(&location).expect("authorize url");
    let state = url
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .expect("state in the authorize URL");
    let res = browser
        .get(format!("{base}/slack/oauth/callback"))
        .query(&[("code", code), ("state", state.as_str())])
        .header(COOKIE, cookie)
        .send()
        .await
        .expect("callback");
    let status = res.status().as_u16();
    (status, res.text().await.expect("page"))
}

/// `name=value` of a cookie the response sets.
pub fn cookie_of(res: &reqwest::Response, name: &str) -> String {
    res.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .and_then(|v| v.split(';').next())
        .unwrap_or_else(|| panic!("no {name} cookie"))
        .to_owned()
}

/// The linking URL in a `connect` answer.
pub fn link_in(answer: &Value) -> String {
    let text = answer["text"].as_str().expect("text");
    let start = text.find("http").expect("a link");
    let end = text[start..].find('|').expect("a labelled link") + start;
    text[start..end].to_owned()
}

/// Opens the linking page and submits `sonar_token` for `connection`; returns status and page.
pub async fn link_account(link: &str, connection: i64, sonar_token: &str) -> (u16, String) {
    let browser = browser();
    let form = browser.get(link).send().await.expect("link page");
    assert_eq!(form.status(), 200, "the link opens the form");
    let cookie = cookie_of(&form, "sonar_slack_csrf");
    let page = form.text().await.expect("page");
    let csrf = hidden_csrf(&page);
    let res = browser
        .post(link)
        .header(COOKIE, cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("connection", &connection.to_string()),
            ("sonar_token", sonar_token),
        ])
        .send()
        .await
        .expect("submit");
    let status = res.status().as_u16();
    (status, res.text().await.expect("page"))
}

pub fn hidden_csrf(page: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = page.find(marker).expect("csrf field") + marker.len();
    let end = page[start..].find('"').expect("end of value") + start;
    page[start..end].to_owned()
}

/// A signed SonarQube webhook for `project` on `server` with the given fixture's gate.
pub async fn webhook(base: &str, server: &str, project: &str, failing: bool, minute: u32) -> Value {
    let body = edit(if failing { FAILED } else { PASSED }, |v| {
        v["serverUrl"] = server.into();
        v["project"]["key"] = project.into();
        let when = format!("2024-05-01T10:{minute:02}:00+0000");
        v["analysedAt"] = when.clone().into();
        v["changedAt"] = when.into();
        v["taskId"] = format!("task-{project}-{minute}").into();
    });
    let res = reqwest::Client::new()
        .post(format!("{base}/webhooks/sonarqube"))
        .header("Content-Type", "application/json; charset=utf-8")
        .header(
            "X-Sonar-Webhook-HMAC-SHA256",
            sonar_signature(WEBHOOK_SECRET.as_bytes(), &body),
        )
        .body(body)
        .send()
        .await
        .expect("webhook");
    assert_eq!(res.status(), 200);
    res.json().await.expect("json")
}

/// Waits for a condition on the database (no fixed sleeps).
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + super::helpers::WAIT;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Everything the story needs to reach.
pub struct World<'a> {
    pub base: String,
    pub db: &'a DatabaseConnection,
    pub fakes: &'a Fakes,
    pub connection_id: i64,
}
