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
    /// `BENCH_CONNECTIONS`: concurrent client connections (ingest, storm and scale).
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

/// A whole number knob (underscores allowed); a value that is not one is an error, not the default.
fn number(name: &str, default: usize) -> anyhow::Result<usize> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(v) => v
            .replace('_', "")
            .trim()
            .parse()
            .map_err(|_| anyhow::anyhow!("{name}={v:?} is not a whole number")),
    }
}

/// A knob that must be at least 1.
fn positive(name: &str, default: usize) -> anyhow::Result<usize> {
    let n = number(name, default)?;
    anyhow::ensure!(n >= 1, "{name} must be at least 1");
    Ok(n)
}

/// A duration in seconds: a finite number above 0.
fn secs(name: &str, default: u64) -> anyhow::Result<Duration> {
    let Ok(v) = std::env::var(name) else {
        return Ok(Duration::from_secs(default));
    };
    let n: f64 = v
        .trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("{name}={v:?} is not a number of seconds"))?;
    anyhow::ensure!(
        n.is_finite() && n > 0.0,
        "{name} must be a number of seconds above 0"
    );
    Ok(Duration::from_secs_f64(n))
}

const SCENARIOS: [&str; 4] = ["ingest", "latency", "storm", "scale"];

impl Knobs {
    /// Reads every knob; a value that is not usable is an error naming it.
    pub fn from_env() -> anyhow::Result<Self> {
        let scale_projects = positive("BENCH_SCALE_PROJECTS", 100_000)?;
        let knobs = Self {
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
            connections: positive("BENCH_CONNECTIONS", 64)?,
            ingest_for: secs("BENCH_INGEST_SECS", 10)?,
            ceiling_for: secs("BENCH_CEILING_SECS", 5)?,
            ingest_projects: positive("BENCH_INGEST_PROJECTS", 10_000)?,
            latency_rate: positive("BENCH_LATENCY_RATE", 500)?,
            latency_channels: positive("BENCH_LATENCY_CHANNELS", 1_000)?,
            latency_for: secs("BENCH_LATENCY_SECS", 10)?,
            storm_transitions: positive("BENCH_STORM_TRANSITIONS", 3_000)?,
            storm_channels: positive("BENCH_STORM_CHANNELS", 30)?,
            storm_per_second: u32::try_from(positive("BENCH_STORM_PER_SECOND", 20)?)?,
            scale_projects,
            scale_channels: positive("BENCH_SCALE_CHANNELS", 100_000)?,
            scale_subscriptions: positive("BENCH_SCALE_SUBSCRIPTIONS", 200_000)?,
            scale_notify: number("BENCH_SCALE_NOTIFY", scale_projects / 5)?,
            scale_idle_secs: positive("BENCH_SCALE_IDLE_SECS", 150)? as u64,
        };
        if let Some(bad) = knobs
            .scenarios
            .iter()
            .find(|s| !SCENARIOS.contains(&s.as_str()))
        {
            anyhow::bail!(
                "BENCH_SCENARIOS: unknown scenario {bad:?}; choose among {}",
                SCENARIOS.join(",")
            );
        }
        anyhow::ensure!(
            !knobs.scenarios.is_empty(),
            "BENCH_SCENARIOS names no scenario"
        );
        anyhow::ensure!(
            knobs.sqlite || knobs.postgres.is_some(),
            "BENCH_SQLITE=0 leaves no database: set SONAR_SLACK_BENCH_POSTGRES_URL too"
        );
        Ok(knobs)
    }

    pub fn wants(&self, scenario: &str) -> bool {
        self.scenarios.iter().any(|s| s == scenario)
    }
}
