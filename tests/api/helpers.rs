//! Test harness: a fresh database per test (SQLite, and PostgreSQL when
//! `SONAR_SLACK_TEST_POSTGRES_URL` is set), the service on port 0 in its own actix System, and the
//! fake Slack over real HTTP.

use std::time::Duration;

use base64::Engine;
use entity::{delivery, project_state, subscription, webhook_event, workspace};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, EntityTrait, PaginatorTrait};
use secrecy::SecretString;
use sonar_slack::config::Settings;
use sonar_slack::crypto::Sealer;
use sonar_slack::domain::signature::sonar_signature;
use sonar_slack::domain::types::{ChannelId, ProjectKey, ServerUrl, TeamId};
use sonar_slack::store::catalog;
use sonar_slack::testing::app::SpawnedApp;
use sonar_slack::testing::fake_slack::{FakeSlack, FakeSlackConfig};

pub const SERVER: &str = "http://localhost:9000";
pub const SECRET: &str = "webhook-secret";
pub const TEAM: &str = "T0TEST0001";
pub const TOKEN: &str = "xoxb-test-token";
pub const PROJECT: &str = "test-sonar";
pub const WAIT: Duration = Duration::from_secs(30);

/// A database for one test.
pub struct TestDb {
    pub kind: &'static str,
    pub url: String,
    admin: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

/// SQLite always; PostgreSQL too when `SONAR_SLACK_TEST_POSTGRES_URL` is set.
pub async fn databases() -> Vec<TestDb> {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut out = vec![TestDb {
        kind: "sqlite",
        url: format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display()),
        admin: None,
        _dir: Some(dir),
    }];
    if let Ok(admin_url) = std::env::var("SONAR_SLACK_TEST_POSTGRES_URL") {
        let name = format!("ss_test_{}", rand::random::<u64>());
        let admin = Database::connect(&admin_url)
            .await
            .expect("connect to PostgreSQL");
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create test database");
        let base = admin_url
            .rsplit_once('/')
            .map_or(admin_url.as_str(), |(b, _)| b);
        out.push(TestDb {
            kind: "postgres",
            url: format!("{base}/{name}"),
            admin: Some((admin_url.clone(), name)),
            _dir: None,
        });
    }
    out
}

impl TestDb {
    pub async fn cleanup(self) {
        if let Some((admin_url, name)) = &self.admin
            && let Ok(admin) = Database::connect(admin_url).await
        {
            let _ = admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await;
        }
    }
}

pub fn test_key() -> SecretString {
    SecretString::from(base64::engine::general_purpose::STANDARD.encode([42u8; 32]))
}

pub fn settings_for(db: &TestDb, fake: &FakeSlack) -> Settings {
    let mut s = Settings::defaults();
    s.database_url = db.url.clone();
    s.slack_api_url = fake.api_url();
    s.encryption_key = Some(test_key());
    s.retry_backoff_base_ms = 20;
    s.retry_after_default_secs = 1;
    s.slack_timeout_secs = 2;
    s
}

/// The service running in its own thread and actix System, like a separate process, plus a
/// database connection of the test's own for setup and assertions.
pub struct TestApp {
    pub base: String,
    pub db: DatabaseConnection,
    pub sealer: Sealer,
    pub client: reqwest::Client,
    app: SpawnedApp,
}

impl TestApp {
    pub async fn spawn(db: &TestDb, fake: &FakeSlack) -> TestApp {
        Self::spawn_with(settings_for(db, fake)).await
    }

    pub async fn spawn_with(settings: Settings) -> TestApp {
        let app = SpawnedApp::start(settings.clone()).expect("the service starts");
        let db = Database::connect(&settings.database_url)
            .await
            .expect("test db connection");
        TestApp {
            base: app.base_url(),
            db,
            sealer: Sealer::from_base64(settings.encryption_key.as_ref().expect("key"))
                .expect("key"),
            client: reqwest::Client::new(),
            app,
        }
    }

    /// Stops the service abruptly, as a crash would: nothing is drained.
    pub async fn crash(self) {
        self.app.crash().await;
    }

    /// Closes the service's own database pool (not the test's): its queries fail from now on.
    pub async fn close_service_database(&self) {
        self.app.close_database().await;
    }

    /// Stops the service as SIGTERM does.
    pub async fn stop(self) {
        self.app.stop().await;
    }

    /// Waits until the fake Slack has received its `n`th post and the delivery is marked in flight:
    /// the request is really out (in flight alone may still be its pacing wait).
    pub async fn request_out(&self, fake: &FakeSlack, n: usize) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while fake.posts_arrived() < n || !self.deliveries().await.iter().any(|d| d.in_flight) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "no request went out"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Asserts that `/metrics` has exactly this sample line.
    pub async fn assert_metric(&self, sample: &str) {
        let metrics = self
            .client
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text");
        assert!(
            metrics.lines().any(|l| l == sample),
            "no `{sample}` in:\n{metrics}"
        );
    }

    pub async fn setup(&self, fake: &FakeSlack, channels: &[&str]) -> i64 {
        fake.add_token(TOKEN, TEAM);
        let conn = self.add_connection(SERVER, Some(SECRET)).await;
        catalog::upsert_workspace(
            &self.db,
            &team(),
            None,
            self.sealer.seal(TOKEN, &catalog::bot_token_context(TEAM)),
        )
        .await
        .expect("workspace");
        for c in channels {
            self.subscribe(conn, c, PROJECT).await;
        }
        conn
    }

    pub async fn add_connection(&self, url: &str, secret: Option<&str>) -> i64 {
        let url = ServerUrl::parse(url).expect("url");
        let sealed = secret.map(|s| {
            self.sealer
                .seal(s, &catalog::webhook_secret_context(url.as_str()))
        });
        catalog::add_connection(&self.db, &url, None, sealed)
            .await
            .expect("connection")
            .id
    }

    pub async fn subscribe(&self, connection: i64, channel: &str, project: &str) -> i64 {
        catalog::subscribe(
            &self.db,
            &team(),
            &ChannelId::parse(channel).expect("channel"),
            connection,
            &ProjectKey::parse(project).expect("project"),
            Some("test"),
        )
        .await
        .expect("subscribe")
        .id
    }

    /// Posts a body signed with [`SECRET`].
    pub async fn post_signed(&self, body: &[u8]) -> reqwest::Response {
        self.post(body, Some(&sonar_signature(SECRET.as_bytes(), body)))
            .await
    }

    pub async fn post(&self, body: &[u8], signature: Option<&str>) -> reqwest::Response {
        let mut req = self
            .client
            .post(format!("{}/webhooks/sonarqube", self.base))
            .header("Content-Type", "application/json; charset=utf-8")
            .body(body.to_vec());
        if let Some(sig) = signature {
            req = req.header("X-Sonar-Webhook-HMAC-SHA256", sig);
        }
        req.send().await.expect("webhook request")
    }

    /// Posts and returns the decision code, asserting a 200.
    pub async fn decision(&self, body: &[u8]) -> String {
        let res = self.post_signed(body).await;
        let status = res.status();
        let json: serde_json::Value = res.json().await.expect("json answer");
        assert_eq!(status, 200, "{json}");
        json["decision"].as_str().unwrap_or_default().to_owned()
    }

    pub async fn deliveries(&self) -> Vec<delivery::Model> {
        sonar_slack::store::deliveries::all(&self.db)
            .await
            .expect("deliveries")
    }

    /// Waits until no delivery is pending (a condition, not a fixed sleep).
    pub async fn settled(&self) -> Vec<delivery::Model> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let all = self.deliveries().await;
            if all.iter().all(|d| d.status != "pending") {
                return all;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "deliveries still pending: {all:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn counts(&self) -> (u64, u64, u64) {
        (
            webhook_event::Entity::find()
                .count(&self.db)
                .await
                .expect("count"),
            project_state::Entity::find()
                .count(&self.db)
                .await
                .expect("count"),
            delivery::Entity::find()
                .count(&self.db)
                .await
                .expect("count"),
        )
    }

    pub async fn subscriptions(&self) -> Vec<subscription::Model> {
        subscription::Entity::find()
            .all(&self.db)
            .await
            .expect("subs")
    }

    pub async fn workspace(&self) -> workspace::Model {
        workspace::Entity::find_by_id(TEAM.to_owned())
            .one(&self.db)
            .await
            .expect("ws")
            .expect("ws exists")
    }
}

pub fn team() -> TeamId {
    TeamId::parse(TEAM).expect("team")
}

/// Slack never had to answer 429: our own pacing kept every post within its limits.
pub fn assert_never_rate_limited(fake: &FakeSlack) {
    let attempts = fake.attempts();
    assert!(
        attempts.iter().all(|a| a.status == 200),
        "Slack answered otherwise: {attempts:?}"
    );
}

pub fn fake_slack() -> FakeSlack {
    FakeSlack::start(FakeSlackConfig::default()).expect("fake slack")
}

pub const PASSED: &str = include_str!("../fixtures/sonarqube/main-branch-passed.json");
pub const FAILED: &str = include_str!("../fixtures/sonarqube/main-branch-failed.json");

/// A fixture with its dates moved to `minute` past 10:00 and, optionally, its task id replaced.
pub fn at(fixture: &str, minute: u32) -> Vec<u8> {
    edit(fixture, |v| {
        let when = format!("2024-05-01T10:{minute:02}:00+0000");
        v["analysedAt"] = when.clone().into();
        v["changedAt"] = when.into();
    })
}

pub fn edit(fixture: &str, f: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_str(fixture).expect("fixture json");
    f(&mut v);
    serde_json::to_vec(&v).expect("json")
}
