//! Logging setup (tracing, text or JSON) and the process-wide counters exported on `/metrics`.

pub mod exposition;
pub mod histogram;
pub mod labeled;
pub mod scrape;

use std::sync::atomic::{AtomicU64, Ordering};

use tracing_subscriber::EnvFilter;

use exposition::{Exposition, Kind};
use histogram::Histogram;
use labeled::Labeled;

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
        // One object per line: the event's fields at the top level, and the fields of the spans
        // it happened in (a delivery's id, project and channel) under `span` and `spans`.
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(true)
            .try_init()
    } else {
        builder.try_init()
    };
}

/// What the service counts for the life of the process, exported on `/metrics`.
#[derive(Debug, Default)]
pub struct Counters {
    /// By outcome: the decision code of a stored webhook, or the error code of a refusal.
    pub webhooks: Labeled,
    /// Gate transitions notified, by the gate reached (`failed`, `passed`).
    pub transitions: Labeled,
    /// Deliveries that ended, by outcome (`sent`, `failed`).
    pub deliveries: Labeled,
    /// From a delivery's creation (the webhook's commit) to Slack accepting it.
    pub delivery_latency: Histogram,
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

    /// The counter families, in Prometheus text.
    pub fn render_into(&self, e: &mut Exposition) {
        self.webhooks.render(
            e,
            "sonar_slack_webhooks_received_total",
            "Webhooks received, by outcome: the decision when stored (2xx), else the error code answered.",
            "outcome",
            &[],
        );
        self.transitions.render(
            e,
            "sonar_slack_transitions_total",
            "Quality-gate transitions notified, by the gate reached.",
            "to",
            &["failed", "passed"],
        );
        self.deliveries.render(
            e,
            "sonar_slack_deliveries_total",
            "Deliveries ended, by outcome (failed ones carry their reason in the database).",
            "outcome",
            &["failed", "sent"],
        );
        self.delivery_latency.render(
            e,
            "sonar_slack_delivery_latency_seconds",
            "Time from a delivery's creation (the webhook's commit) to Slack accepting the message.",
        );
        let rows = [
            (
                "sonar_slack_slack_rate_limited_total",
                "429 answers obeyed.",
                &self.slack_rate_limited,
            ),
            (
                "sonar_slack_slack_ambiguous_failures_total",
                "Requests that may have posted though not confirmed: timeouts, 5xx, and requests out when the service stopped (counted at the next start).",
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
        for (name, help, value) in rows {
            e.family(name, Kind::Counter, help);
            e.sample(name, &[], value.load(Ordering::Relaxed) as f64);
        }
    }
}
