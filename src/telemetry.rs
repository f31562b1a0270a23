//! Logging setup (tracing, text or JSON) and the process-wide counters exported on `/metrics`.

use std::sync::atomic::{AtomicU64, Ordering};

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `RUST_LOG` overrides the default level.
pub fn init(format: &str, default_level: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(format!(
            "{default_level},sqlx=warn,sea_orm=warn,sea_orm_migration=warn"
        ))
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()));
    // A second init (tests, demo) keeps the first subscriber; that is fine.
    let _ = if format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Counters; monotonically increasing for the life of the process.
#[derive(Debug, Default)]
pub struct Counters {
    pub webhooks_accepted: AtomicU64,
    pub webhooks_rejected: AtomicU64,
    pub notifications: AtomicU64,
    pub deliveries_sent: AtomicU64,
    pub deliveries_failed: AtomicU64,
    pub slack_rate_limited: AtomicU64,
    pub slack_ambiguous_failures: AtomicU64,
    pub slack_retries_not_sent: AtomicU64,
    pub slack_requests_refused: AtomicU64,
    pub slash_commands: AtomicU64,
    pub slack_events: AtomicU64,
    pub installs: AtomicU64,
}

impl Counters {
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Prometheus text exposition.
    pub fn render(&self) -> String {
        let rows = [
            (
                "sonar_slack_webhooks_accepted_total",
                "Webhooks stored (2xx).",
                &self.webhooks_accepted,
            ),
            (
                "sonar_slack_webhooks_rejected_total",
                "Webhooks refused (4xx) or not stored (503).",
                &self.webhooks_rejected,
            ),
            (
                "sonar_slack_notifications_total",
                "Gate transitions notified.",
                &self.notifications,
            ),
            (
                "sonar_slack_deliveries_sent_total",
                "Messages Slack accepted.",
                &self.deliveries_sent,
            ),
            (
                "sonar_slack_deliveries_failed_total",
                "Deliveries given up, with a recorded reason.",
                &self.deliveries_failed,
            ),
            (
                "sonar_slack_slack_rate_limited_total",
                "429 answers obeyed.",
                &self.slack_rate_limited,
            ),
            (
                "sonar_slack_slack_ambiguous_failures_total",
                "Failed requests that may nonetheless have posted (timeouts, 5xx).",
                &self.slack_ambiguous_failures,
            ),
            (
                "sonar_slack_slack_retries_not_sent_total",
                "Retries after a request that never reached Slack.",
                &self.slack_retries_not_sent,
            ),
            (
                "sonar_slack_slack_requests_refused_total",
                "Requests claiming to come from Slack refused for their signature (401).",
                &self.slack_requests_refused,
            ),
            (
                "sonar_slack_slash_commands_total",
                "Signed slash commands run.",
                &self.slash_commands,
            ),
            (
                "sonar_slack_slack_events_total",
                "Events API callbacks handled (retries of handled ones excluded).",
                &self.slack_events,
            ),
            (
                "sonar_slack_installs_total",
                "Completed OAuth installs and reinstalls.",
                &self.installs,
            ),
        ];
        let mut out = String::new();
        for (name, help, value) in rows {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}\n",
                value.load(Ordering::Relaxed)
            ));
        }
        out
    }
}
