//! Stopping cleanly: SIGTERM or SIGINT stops new work at once, lets in-flight HTTP requests and
//! requests out to Slack finish within the grace period, and logs what stays pending for the next
//! start. A second signal stops without waiting.

use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use sea_orm::DatabaseConnection;
use tokio::time::Instant;

use crate::actors::Shared;
use crate::store;

/// When the stop began (the first signal), shared between the signal task and the stop.
pub type StopClock = Arc<OnceLock<Instant>>;

/// Waits for SIGTERM or SIGINT, then stops the server gracefully: it accepts no new connection and
/// finishes the requests it has; no new post to Slack starts. A second signal stops at once.
pub async fn on_signals(server: ServerHandle, shared: Arc<Shared>, began: StopClock) {
    let Some(name) = next_signal().await else {
        return;
    };
    let _ = began.set(Instant::now());
    shared.stopping.store(true, Ordering::SeqCst);
    tracing::info!(
        signal = name,
        "stopping: no new requests or posts; finishing those under way (a second signal stops at once)"
    );
    actix_web::rt::spawn(async move {
        server.stop(true).await;
    });
    if let Some(name) = next_signal().await {
        // As safe as a crash: what was acknowledged is on disk and resumes at the next start.
        tracing::warn!(signal = name, "stopping at once");
        std::process::exit(130);
    }
}

/// The next SIGTERM or SIGINT, by name; `None` when signals cannot be listened to.
async fn next_signal() -> Option<&'static str> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                return None;
            }
        };
        tokio::select! {
            _ = term.recv() => Some("SIGTERM"),
            r = tokio::signal::ctrl_c() => r.ok().map(|()| "SIGINT"),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.ok().map(|()| "SIGINT")
    }
}

/// After the HTTP server stopped: lets requests already out to Slack finish and be recorded until
/// `deadline` (so a restart does not post them again), calls off the attempts still being paced,
/// and logs what is left pending.
pub async fn finish(shared: &Shared, deadline: Instant) {
    shared.stopping.store(true, Ordering::SeqCst);
    while shared.in_flight.load(Ordering::SeqCst) > 0 {
        if Instant::now() >= deadline {
            tracing::warn!(
                out = shared.in_flight.load(Ordering::SeqCst),
                "the grace period is over with requests to Slack still out; they count as ambiguous at the next start"
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for id in shared.take_armed() {
        if let Err(e) = store::deliveries::call_off(&shared.db, id).await {
            tracing::warn!(delivery = id, error = %e, "cannot call off a paced attempt; the next start counts it as ambiguous");
        }
    }
    log_pending(&shared.db).await;
}

/// One line saying how many deliveries wait for the next start, and where.
async fn log_pending(db: &DatabaseConnection) {
    const SHOWN: usize = 20;
    match store::deliveries::pending_by_channel(db).await {
        Ok(by_channel) if by_channel.is_empty() => {
            tracing::info!(
                pending = 0,
                "stopped; nothing left pending for the next start"
            );
        }
        Ok(by_channel) => {
            let total: u64 = by_channel.iter().map(|(_, _, n)| n).sum();
            let mut channels: Vec<String> = by_channel
                .iter()
                .take(SHOWN)
                .map(|(team, channel, n)| format!("{team}/{channel}: {n}"))
                .collect();
            if by_channel.len() > SHOWN {
                channels.push(format!("… and {} more channels", by_channel.len() - SHOWN));
            }
            tracing::info!(
                pending = total,
                channels = by_channel.len(),
                "stopped; {total} deliveries left pending for the next start ({})",
                channels.join(", ")
            );
        }
        Err(e) => tracing::warn!(error = %e, "stopped; cannot count what was left pending"),
    }
}
