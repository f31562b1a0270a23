//! The load bench's knobs: sizes, durations and the database, read from the environment once.

use std::time::Duration;

/// Everything the environment can change about a run (defaults are the scenarios).
#[derive(Debug, Clone)]
pub struct Knobs {
    /// `SONAR_SLACK_BENCH_POSTGRES_URL`: also run every scenario on a fresh PostgreSQL database.
    pub postgres: Option<String>,
    /// `BENCH_SQLITE=0`: skip SQLite (with a PostgreSQL URL, run PostgreSQL only).
    pub sqlite: bool,
    /// `BENCH_SCENARIOS`: comma-separated subset of `ingest,latency,storm,scale`.
    pub scenarios: Vec<String>,
    /// `BENCH_CONNECTIONS`: concurrent client connections in the ingest scenario.
    pub connections: usize,
    /// `BENCH_INGEST_SECS` / `BENCH_CEILING_SECS`: how long ingest and the `/healthz` ceiling run.
    pub ingest_for: Duration,
    pub ceiling_for: Duration,
    /// `BENCH_INGEST_PROJECTS`: projects the ingest webhooks go round.
    pub ingest_projects: usize,
    /// `BENCH_LATENCY_RATE`, `BENCH_LATENCY_CHANNELS`, `BENCH_LATENCY_SECS`.
    pub latency_rate: usize,
    pub latency_channels: usize,
    pub latency_for: Duration,
    /// `BENCH_STORM_TRANSITIONS`, `BENCH_STORM_CHANNELS`, `BENCH_STORM_PER_SECOND`.
    pub storm_transitions: usize,
    pub storm_channels: usize,
    pub storm_per_second: u32,
    /// `BENCH_SCALE_PROJECTS`, `BENCH_SCALE_CHANNELS`, `BENCH_SCALE_SUBSCRIPTIONS`.
    pub scale_projects: usize,
    pub scale_channels: usize,
    pub scale_subscriptions: usize,
    /// `BENCH_SCALE_NOTIFY`: projects (of `scale_projects`) whose webhook is a transition, so
    /// that their channels get a ChannelActor; the others get an unchanged gate. Default: a
    /// fifth, so the default run stays within minutes (each message is paced and posted).
    pub scale_notify: usize,
    /// `BENCH_SCALE_IDLE_SECS`: the service's `actor_idle_secs` in the scale scenario; longer
    /// than the activation, so every actor is alive at the peak.
    pub scale_idle_secs: u64,
}

fn number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn secs(name: &str, default: u64) -> Duration {
    Duration::from_secs_f64(
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default as f64),
    )
}

impl Knobs {
    pub fn from_env() -> Self {
        let scale_projects = number("BENCH_SCALE_PROJECTS", 100_000);
        Self {
            postgres: std::env::var("SONAR_SLACK_BENCH_POSTGRES_URL")
                .ok()
                .filter(|u| !u.is_empty()),
            sqlite: std::env::var("BENCH_SQLITE").map_or(true, |v| v != "0"),
            scenarios: std::env::var("BENCH_SCENARIOS")
                .unwrap_or_else(|_| "ingest,latency,storm,scale".into())
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect(),
            connections: number("BENCH_CONNECTIONS", 64),
            ingest_for: secs("BENCH_INGEST_SECS", 10),
            ceiling_for: secs("BENCH_CEILING_SECS", 5),
            ingest_projects: number("BENCH_INGEST_PROJECTS", 10_000),
            latency_rate: number("BENCH_LATENCY_RATE", 500),
            latency_channels: number("BENCH_LATENCY_CHANNELS", 1_000),
            latency_for: secs("BENCH_LATENCY_SECS", 10),
            storm_transitions: number("BENCH_STORM_TRANSITIONS", 3_000),
            storm_channels: number("BENCH_STORM_CHANNELS", 30),
            storm_per_second: number("BENCH_STORM_PER_SECOND", 20) as u32,
            scale_projects,
            scale_channels: number("BENCH_SCALE_CHANNELS", 100_000),
            scale_subscriptions: number("BENCH_SCALE_SUBSCRIPTIONS", 200_000),
            scale_notify: number("BENCH_SCALE_NOTIFY", scale_projects / 5),
            scale_idle_secs: number("BENCH_SCALE_IDLE_SECS", 150) as u64,
        }
    }

    pub fn wants(&self, scenario: &str) -> bool {
        self.scenarios.iter().any(|s| s == scenario)
    }
}
