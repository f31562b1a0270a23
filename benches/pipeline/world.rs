//! One scenario's world: a fresh database (a temp SQLite file, or a new PostgreSQL database), seeded
//! in bulk with multi-row inserts, the fake Slack, and the service's settings.

use anyhow::Context as _;
use base64::Engine;
use chrono::{DateTime, TimeZone, Utc};
use entity::{project_state, subscription};
use sea_orm::{ConnectionTrait, Database, EntityTrait, Set, TransactionTrait};
use secrecy::SecretString;
use sonar_slack::config::Settings;
use sonar_slack::crypto::Sealer;
use sonar_slack::domain::types::{ServerUrl, TeamId};
use sonar_slack::startup::open_database;
use sonar_slack::store::catalog;
use sonar_slack::testing::fake_slack::FakeSlack;

pub const SERVER: &str = "https://sonar.bench.example";
pub const SECRET: &str = "bench-secret";
pub const TEAM: &str = "T0BENCH001";
pub const TOKEN: &str = "xoxb-bench";

/// Rows per multi-row insert while seeding.
const SEED_CHUNK: usize = 2_000;

#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    Postgres(String),
}

impl Backend {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Sqlite => "SQLite",
            Self::Postgres(_) => "PostgreSQL",
        }
    }
}

/// A database that exists for one scenario.
pub struct BenchDb {
    pub url: String,
    admin: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl BenchDb {
    pub async fn create(backend: &Backend) -> anyhow::Result<Self> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir()?;
                let url = format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("bench.db").display()
                );
                Ok(Self {
                    url,
                    admin: None,
                    _dir: Some(dir),
                })
            }
            Backend::Postgres(admin_url) => {
                let name = format!("ss_bench_{}", rand::random::<u32>());
                let admin = Database::connect(admin_url.as_str())
                    .await
                    .context("connect to SONAR_SLACK_BENCH_POSTGRES_URL")?;
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await?;
                let base = admin_url
                    .rsplit_once('/')
                    .map_or(admin_url.as_str(), |(b, _)| b);
                Ok(Self {
                    url: format!("{base}/{name}"),
                    admin: Some((admin_url.clone(), name)),
                    _dir: None,
                })
            }
        }
    }

    /// Drops a PostgreSQL database (a SQLite file goes with its temp dir).
    pub async fn remove(self) {
        if let Some((admin_url, name)) = &self.admin
            && let Ok(admin) = Database::connect(admin_url.as_str()).await
        {
            let _ = admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await;
        }
    }
}

/// The run's encryption key (base64), the same for the service and the seeding.
pub fn key() -> SecretString {
    static KEY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let key = KEY.get_or_init(|| {
        base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>())
    });
    SecretString::from(key.clone())
}

/// The service's settings for a scenario: the database, the fake Slack, a workspace limit high
/// enough that only the per-channel pace is measured.
pub fn settings(db: &BenchDb, fake: &FakeSlack) -> Settings {
    let mut s = Settings::defaults();
    s.database_url = db.url.clone();
    s.slack_api_url = fake.api_url();
    s.encryption_key = Some(key());
    s.slack_workspace_per_minute = 1_000_000;
    s
}

pub fn channel_id(c: usize) -> String {
    format!("C{c:09}")
}

pub fn project_key(p: usize) -> String {
    format!("bench:project-{p}")
}

/// When analysis `n` of the run happened: one second apart, all in the past.
pub fn analysed_at(n: usize) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
        .single()
        .expect("a valid date")
        + chrono::Duration::seconds(n as i64)
}

/// What to seed.
pub struct Plan {
    pub projects: usize,
    pub channels: usize,
    /// Subscription `i` is project `i % projects`, in channel `i % channels` for the first
    /// subscription of each project and half way round (or a third, …) for the next.
    pub subscriptions: usize,
    /// Store every project's state as passed (analysed before any webhook of the run).
    pub passed: bool,
}

/// Migrates, then seeds the connection, the workspace, the subscriptions and the states.
pub async fn seed(settings: &Settings, fake: &FakeSlack, plan: &Plan) -> anyhow::Result<()> {
    let db = open_database(settings).await?;
    let sealer = Sealer::from_base64(&key())?;
    let url = ServerUrl::parse(SERVER)?;
    let secret = sealer.seal(SECRET, &catalog::webhook_secret_context(SERVER));
    let connection = catalog::add_connection(&db, &url, None, Some(secret))
        .await?
        .id;
    let token = sealer.seal(TOKEN, &catalog::bot_token_context(TEAM));
    catalog::upsert_workspace(&db, &TeamId::parse(TEAM)?, None, token).await?;
    fake.add_token(TOKEN, TEAM);
    let now = Utc::now();
    let txn = db.begin().await?;
    // A project's k-th subscription is `k` steps round the channels from its first, so projects
    // reach as many distinct channels as there are.
    let per_project = plan.subscriptions.div_ceil(plan.projects).max(1);
    let step = (plan.channels / per_project).max(1);
    let subs = (0..plan.subscriptions).map(|i| subscription::ActiveModel {
        team_id: Set(TEAM.to_owned()),
        channel_id: Set(channel_id(
            (i % plan.projects + (i / plan.projects) * step) % plan.channels,
        )),
        connection_id: Set(connection),
        project_key: Set(project_key(i % plan.projects)),
        status: Set("active".to_owned()),
        disabled_reason: Set(None),
        created_by: Set(Some("bench".to_owned())),
        created_at: Set(now),
        ..Default::default()
    });
    for chunk in chunked(subs) {
        subscription::Entity::insert_many(chunk)
            .exec_without_returning(&txn)
            .await?;
    }
    if plan.passed {
        let states = (0..plan.projects).map(|p| project_state::ActiveModel {
            connection_id: Set(connection),
            project_key: Set(project_key(p)),
            gate: Set("passed".to_owned()),
            analysed_at: Set(Some(analysed_at(0))),
            changed_at: Set(Some(analysed_at(0))),
            failing_since: Set(None),
            version: Set(1),
            updated_at: Set(now),
            ..Default::default()
        });
        for chunk in chunked(states) {
            project_state::Entity::insert_many(chunk)
                .exec_without_returning(&txn)
                .await?;
        }
    }
    txn.commit().await?;
    db.close().await?;
    Ok(())
}

fn chunked<T>(items: impl Iterator<Item = T>) -> Vec<Vec<T>> {
    let mut out: Vec<Vec<T>> = Vec::new();
    for item in items {
        match out.last_mut() {
            Some(last) if last.len() < SEED_CHUNK => last.push(item),
            _ => out.push(vec![item]),
        }
    }
    out
}
