//! End-to-end load bench: signed webhooks over HTTP → ProjectActors → database → ChannelActors →
//! the fake Slack, which enforces ≈1 msg/s per channel. Prints throughput, latency and memory.
//!
//! `cargo bench --bench pipeline` (SQLite in a temp dir). Knobs: `BENCH_PROJECTS` (default 1000),
//! `BENCH_CHANNELS` (50), `BENCH_CONCURRENCY` (32), `BENCH_DATABASE_URL` (e.g. a PostgreSQL URL).

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use secrecy::SecretString;
use sonar_slack::config::Settings;
use sonar_slack::crypto::Sealer;
use sonar_slack::domain::signature::sonar_signature;
use sonar_slack::domain::types::{ChannelId, ProjectKey, ServerUrl, TeamId};
use sonar_slack::startup::open_database;
use sonar_slack::store::catalog;
use sonar_slack::testing::app::SpawnedApp;
use sonar_slack::testing::fake_slack::{FakeSlack, FakeSlackConfig};
use tokio::sync::Semaphore;

const SERVER: &str = "https://sonar.bench.example";
const SECRET: &str = "bench-secret";
const TEAM: &str = "T0BENCH001";
const TOKEN: &str = "xoxb-bench";
const FAILED: &str = include_str!("../tests/fixtures/sonarqube/main-branch-failed.json");
const PASSED: &str = include_str!("../tests/fixtures/sonarqube/main-branch-passed.json");

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|kb| kb.parse::<f64>().ok())
            })
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn body(template: &str, project: usize, minute: u32) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_str(template).expect("fixture");
    v["serverUrl"] = SERVER.into();
    v["project"]["key"] = format!("bench:project-{project}").into();
    let when = format!("2026-01-01T10:{minute:02}:00+0000");
    v["analysedAt"] = when.clone().into();
    v["changedAt"] = when.into();
    serde_json::to_vec(&v).expect("json")
}

struct Phase {
    name: &'static str,
    count: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Phase {
    fn print(&mut self) {
        self.latencies.sort();
        let pct = |p: f64| self.latencies[((self.latencies.len() as f64 - 1.0) * p) as usize];
        println!(
            "{:<34} {:>6} webhooks in {:>7.2} s = {:>7.0} webhooks/s; latency p50 {:>6.2} ms, p99 {:>6.2} ms, max {:>6.2} ms",
            self.name,
            self.count,
            self.elapsed.as_secs_f64(),
            self.count as f64 / self.elapsed.as_secs_f64(),
            pct(0.5).as_secs_f64() * 1e3,
            pct(0.99).as_secs_f64() * 1e3,
            pct(1.0).as_secs_f64() * 1e3,
        );
    }
}

async fn send_all(
    base: &str,
    bodies: Vec<Vec<u8>>,
    concurrency: usize,
    name: &'static str,
) -> Phase {
    let client = reqwest::Client::new();
    let gate = Arc::new(Semaphore::new(concurrency));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(bodies.len());
    let count = bodies.len();
    for b in bodies {
        let permit = gate.clone().acquire_owned().await.expect("semaphore");
        let client = client.clone();
        let url = format!("{base}/webhooks/sonarqube");
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let res = client
                .post(url)
                .header("Content-Type", "application/json; charset=utf-8")
                .header(
                    "X-Sonar-Webhook-HMAC-SHA256",
                    sonar_signature(SECRET.as_bytes(), &b),
                )
                .body(b)
                .send()
                .await
                .expect("request");
            assert!(res.status().is_success(), "HTTP {}", res.status());
            drop(permit);
            t.elapsed()
        }));
    }
    let mut latencies = Vec::with_capacity(count);
    for t in tasks {
        latencies.push(t.await.expect("task"));
    }
    Phase {
        name,
        count,
        elapsed: started.elapsed(),
        latencies,
    }
}

fn main() -> anyhow::Result<()> {
    let projects = env_or("BENCH_PROJECTS", 1000);
    let channels = env_or("BENCH_CHANNELS", 50);
    let concurrency = env_or("BENCH_CONCURRENCY", 32);
    let dir = tempfile::tempdir()?;
    let fake = FakeSlack::start(FakeSlackConfig::default())?;
    fake.add_token(TOKEN, TEAM);

    let mut settings = Settings::defaults();
    settings.database_url = std::env::var("BENCH_DATABASE_URL").unwrap_or_else(|_| {
        format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("bench.db").display()
        )
    });
    settings.slack_api_url = fake.api_url();
    settings.slack_workspace_per_minute = 60 * channels as u32;
    settings.encryption_key = Some(SecretString::from(
        base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>()),
    ));

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let db = open_database(&settings).await?;
        let sealer = Sealer::from_base64(settings.encryption_key.as_ref().expect("key set above"))?;
        let url = ServerUrl::parse(SERVER)?;
        let conn = catalog::add_connection(&db, &url, None, Some(sealer.seal(SECRET, &catalog::webhook_secret_context(SERVER)))).await?;
        let team = TeamId::parse(TEAM)?;
        catalog::upsert_workspace(&db, &team, None, sealer.seal(TOKEN, &catalog::bot_token_context(TEAM))).await?;
        for p in 0..projects {
            let channel = ChannelId::parse(&format!("C{:06}", p % channels))?;
            catalog::subscribe(&db, &team, &channel, conn.id, &ProjectKey::parse(&format!("bench:project-{p}"))?, None).await?;
        }
        drop(db);
        println!("pipeline bench: {projects} projects, {channels} channels, {concurrency} concurrent senders, db {}", if settings.database_url.starts_with("sqlite") { "SQLite" } else { "PostgreSQL" });
        let rss_before = rss_mib();
        let app = SpawnedApp::start(settings.clone())?;
        let base = app.base_url();

        let mut first = send_all(&base, (0..projects).map(|p| body(PASSED, p, 0)).collect(), concurrency, "first status (no notification)").await;
        first.print();
        let mut unchanged = send_all(&base, (0..projects).map(|p| body(PASSED, p, 1)).collect(), concurrency, "unchanged gate").await;
        unchanged.print();
        let started = Instant::now();
        let mut breaking = send_all(&base, (0..projects).map(|p| body(FAILED, p, 2)).collect(), concurrency, "transition (notification + delivery)").await;
        breaking.print();
        let messages = fake.wait_for_messages(projects, Duration::from_secs(3600)).await.map_err(anyhow::Error::msg)?;
        let drained = started.elapsed();
        let rate_limited = fake.attempts().iter().filter(|a| a.status == 429).count();
        println!(
            "delivered {} messages to {channels} channels in {:.2} s = {:.1} msg/s (pace limit {channels} msg/s); Slack 429s: {rate_limited}",
            messages.len(),
            drained.as_secs_f64(),
            messages.len() as f64 / drained.as_secs_f64(),
        );
        println!("resident memory: {:.1} MiB before start, {:.1} MiB after (whole process: service + fake Slack + client)", rss_before, rss_mib());
        app.stop().await;
        fake.stop();
        anyhow::Ok(())
    })
}
