//! Harness for the Slack app tests: the service with the fake Slack and a fake SonarQube, and a
//! "Slack" that signs its requests as the real one does.

use std::time::Duration;

use sea_orm::{DatabaseConnection, EntityTrait};
use secrecy::SecretString;
use serde_json::{Value, json};
use sonar_slack::config::Settings;
use sonar_slack::domain::signature::sonar_signature;
use sonar_slack::testing::fake_slack::{FakeSlack, InstallGrant};
use sonar_slack::testing::fake_sonar::FakeSonar;
use sonar_slack::testing::slack_side;

use super::helpers::{FAILED, PASSED, TestApp, TestDb, edit, settings_for};

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

/// The Slack side of the tests: [`slack_side::SlackSide`] with this app's secret and team.
pub struct SlackSide {
    inner: slack_side::SlackSide,
    pub client: reqwest::Client,
}

pub use slack_side::browser;

impl SlackSide {
    pub fn new(base: &str) -> Self {
        let inner = slack_side::SlackSide::new(base, SIGNING_SECRET, APP_TEAM);
        let client = inner.client.clone();
        Self { inner, client }
    }

    pub async fn signed(
        &self,
        path: &str,
        body: &[u8],
        content_type: &str,
        skew: i64,
    ) -> reqwest::Response {
        self.inner
            .signed(path, body, content_type, skew)
            .await
            .expect("request to the service")
    }

    pub fn command_body(user: &str, channel: &str, text: &str, response_url: &str) -> Vec<u8> {
        slack_side::SlackSide::new("", SIGNING_SECRET, APP_TEAM).command_body(
            user,
            channel,
            text,
            response_url,
        )
    }

    /// Runs `/sonarqube <text>` as `user` in `channel`; returns the status and the JSON answer.
    pub async fn command(
        &self,
        user: &str,
        channel: &str,
        text: &str,
        response_url: &str,
    ) -> (u16, Value) {
        self.inner
            .command(user, channel, text, response_url)
            .await
            .expect("slash command")
    }

    pub async fn event(&self, envelope: &Value) -> (u16, Value) {
        self.inner.event(envelope).await.expect("event")
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

/// Installs the app as a browser does; returns the callback's status and page.
pub async fn install(base: &str, code: &str) -> (u16, String) {
    let run = slack_side::install(base, code).await.expect("install flow");
    assert!(
        run.authorize_url.contains("scope="),
        "{}",
        run.authorize_url
    );
    (run.status, run.page)
}

pub fn cookie_of(res: &reqwest::Response, name: &str) -> String {
    slack_side::cookie_of(res, name).expect("cookie")
}

pub fn link_in(answer: &Value) -> String {
    slack_side::link_in(answer).unwrap_or_else(|| panic!("no link in {answer}"))
}

pub async fn link_account(link: &str, connection: i64, sonar_token: &str) -> (u16, String) {
    slack_side::link_account(link, connection, sonar_token)
        .await
        .expect("linking form")
}

pub fn hidden_csrf(page: &str) -> String {
    slack_side::hidden_csrf(page).expect("csrf field")
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

/// The service configured as a Slack app against the fakes, with one SonarQube connection.
pub async fn spawn(db: &TestDb, fakes: &Fakes) -> (TestApp, i64) {
    spawn_tuned(db, fakes, |_| {}).await
}

pub async fn spawn_tuned(
    db: &TestDb,
    fakes: &Fakes,
    tune: impl FnOnce(&mut Settings),
) -> (TestApp, i64) {
    let mut s = settings_for(db, &fakes.slack);
    s.slack_client_id = Some(CLIENT_ID.into());
    s.slack_client_secret = Some(SecretString::from(CLIENT_SECRET));
    s.slack_signing_secret = Some(SecretString::from(SIGNING_SECRET));
    s.slack_authorize_url = format!("{}/oauth/v2/authorize", fakes.slack.api_url());
    tune(&mut s);
    let app = TestApp::spawn_with(s).await;
    let conn = app
        .add_connection(&fakes.sonar.url(), Some(WEBHOOK_SECRET))
        .await;
    (app, conn)
}

/// Installs and links Alice; returns the Slack side.
pub async fn installed_and_linked(app: &TestApp, fakes: &Fakes, conn: i64) -> SlackSide {
    fakes
        .slack
        .set_redirect_uri(&format!("{}/slack/oauth/callback", app.base));
    let (status, page) = install(&app.base, "code-install-1").await;
    assert_eq!(status, 200, "{page}");
    let slack = SlackSide::new(&app.base);
    let (_, answer) = slack.command(ALICE, CHANNEL, "connect", "").await;
    let (status, page) = link_account(&link_in(&answer), conn, ALICE_SONAR_TOKEN).await;
    assert_eq!(status, 200, "{page}");
    slack
}

pub fn text(answer: &serde_json::Value) -> String {
    answer["text"].as_str().unwrap_or_default().to_owned()
}

pub async fn app_workspace(app: &TestApp) -> entity::workspace::Model {
    entity::workspace::Entity::find_by_id(APP_TEAM.to_owned())
        .one(&app.db)
        .await
        .expect("db")
        .expect("workspace")
}

/// Stops the service (gracefully) and the fakes, and drops the test database.
pub async fn finish(app: TestApp, fakes: Fakes, db: TestDb) {
    app.stop().await;
    fakes.stop();
    db.cleanup().await;
}
