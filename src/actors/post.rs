//! Posting one delivery until it ends: pace, hold the channel's lease, post, and act on every answer
//! Slack can give (see [`crate::domain::delivery::judge`]), recording each step in the database.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use governor::DefaultDirectRateLimiter;
use rand::Rng;

use std::sync::atomic::Ordering;

use super::pacing::WorkspaceGate;
use super::tokens::TokenProblem;
use super::{Busy, Shared};
use crate::domain::delivery::{Verdict, backoff, judge};
use crate::domain::message::SlackMessage;
use crate::store::deliveries;
use crate::store::ingest::NewDelivery;
use crate::store::writer::DeliveryWrite;
use crate::telemetry::Counters;

/// How one delivery ended, as far as the channel's queue is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Finish {
    /// Sent, or failed with a recorded reason: go on with the next one.
    Done,
    /// The route or the installation is broken: what was queued has been failed in the database.
    Stop,
    /// Another instance holds the channel: leave what is queued to it (it sweeps pending rows).
    Yield,
    /// An older delivery for this channel is still pending (created elsewhere): send it first.
    Behind(NewDelivery),
    /// The workspace is not added yet: leave the deliveries pending; sweeps bring them back.
    Park,
}

/// This instance's lease on the channel, renewed in the database when half of it is used up.
#[derive(Debug, Default)]
pub(super) struct Lease {
    until: std::sync::Mutex<Option<std::time::Instant>>,
}

impl Lease {
    async fn hold(
        &self,
        shared: &Shared,
        team: &str,
        channel: &str,
    ) -> Result<bool, sea_orm::DbErr> {
        let fresh = {
            let until = self.until.lock().unwrap_or_else(|e| e.into_inner());
            until.is_some_and(|u| {
                u.saturating_duration_since(std::time::Instant::now()) > shared.lease_ttl / 2
            })
        };
        if fresh {
            return Ok(true);
        }
        let now = chrono::Utc::now();
        let ttl =
            chrono::Duration::from_std(shared.lease_ttl).unwrap_or(chrono::Duration::seconds(30));
        let taken_at = std::time::Instant::now();
        let held = shared
            .writer
            .delivery(DeliveryWrite::TakeLease {
                team: team.to_owned(),
                channel: channel.to_owned(),
                owner: shared.instance_id.clone(),
                now,
                until: now + ttl,
            })
            .await?;
        *self.until.lock().unwrap_or_else(|e| e.into_inner()) =
            held.then(|| taken_at + shared.lease_ttl);
        Ok(held)
    }
}

/// Posts one delivery until it ends: sent, failed with a reason, or its route/installation broken.
pub(super) async fn deliver_one(
    shared: Arc<Shared>,
    workspace: Arc<WorkspaceGate>,
    limiter: Arc<DefaultDirectRateLimiter>,
    lease: Arc<Lease>,
    d: NewDelivery,
) -> Finish {
    let message: SlackMessage = match serde_json::from_str(&d.message) {
        Ok(m) => m,
        Err(e) => {
            let reason = format!("stored message is unreadable: {e}");
            return give_up(&shared, d.id, &reason).await;
        }
    };
    let mut not_sent = 0u32;
    let mut text_only = false;
    let mut refreshed = false;
    loop {
        let token = match shared.tokens.get(&d.team_id).await {
            Ok(t) => t,
            Err(TokenProblem::NotAdded(reason)) => {
                persist(&shared, || {
                    deliveries::note_error(&shared.db, d.id, &reason)
                })
                .await;
                tracing::warn!(%reason, "delivery waits for its workspace");
                return Finish::Park;
            }
            Err(TokenProblem::Disabled(reason)) => {
                return give_up(&shared, d.id, &reason).await;
            }
            Err(TokenProblem::Transient(reason)) => {
                not_sent += 1;
                tracing::error!(%reason, "cannot read the workspace; will retry");
                actix::clock::sleep(backoff(&shared.policy, not_sent, jitter())).await;
                continue;
            }
        };
        if !persist(&shared, || lease.hold(&shared, &d.team_id, &d.channel_id)).await {
            tracing::info!("another instance holds this channel; leaving the delivery to it");
            return Finish::Yield;
        }
        if let Some(older) = persist(&shared, || {
            deliveries::oldest_pending(&shared.db, &d.team_id, &d.channel_id)
        })
        .await
            && older.id < d.id
        {
            return Finish::Behind(older);
        }
        if shared.stopping.load(Ordering::SeqCst) {
            return Finish::Yield;
        }
        let count = || {
            shared
                .writer
                .delivery(DeliveryWrite::CountAttempt { id: d.id })
        };
        if !persist(&shared, count).await {
            tracing::debug!("already delivered or failed elsewhere");
            return Finish::Done;
        }
        shared.arm(d.id);
        // Pace last, right before the request, so no database latency sits between the limiter's
        // go-ahead and the post (it would bunch posts up on Slack's side).
        if let Some(wait) = workspace.remaining_pause() {
            actix::clock::sleep(wait).await;
        }
        limiter.until_ready().await;
        workspace.limiter.until_ready().await;
        // A long wait may have used up the lease; make sure the channel is still ours.
        if !persist(&shared, || lease.hold(&shared, &d.team_id, &d.channel_id)).await {
            tracing::info!("the channel lease passed to another instance while waiting");
            call_off(&shared, d.id).await;
            return Finish::Yield;
        }
        if shared.stopping.load(Ordering::SeqCst) {
            call_off(&shared, d.id).await;
            return Finish::Yield;
        }
        // From here until the outcome is recorded, a stop waits for this request.
        let busy = Busy::enter(&shared.in_flight);
        shared.disarm(d.id);
        let reply = shared
            .slack
            .post_message(&token, &d.channel_id, &message, text_only)
            .await;
        let verdict = judge(reply.as_ref(), &shared.policy);
        match verdict {
            Verdict::Delivered { ts } => {
                let ts = ts.clone();
                let sent = || {
                    let id = d.id;
                    let ts = ts.clone();
                    shared.writer.delivery(DeliveryWrite::MarkSent { id, ts })
                };
                persist(&shared, sent).await;
                shared.counters.deliveries.bump("sent");
                let waited = (chrono::Utc::now() - d.created_at)
                    .to_std()
                    .unwrap_or_default();
                shared.counters.delivery_latency.observe(waited);
                tracing::info!(%ts, "delivered");
                return Finish::Done;
            }
            Verdict::RateLimited { after } => {
                Counters::bump(&shared.counters.slack_rate_limited);
                tracing::warn!(
                    wait_ms = after.as_millis() as u64,
                    "Slack rate limit; waiting as told"
                );
                workspace.pause(after);
            }
            Verdict::RetryNotSent { reason } => {
                not_sent += 1;
                Counters::bump(&shared.counters.slack_retries_not_sent);
                tracing::warn!(%reason, attempt = not_sent, "not sent; will retry");
                persist(&shared, || {
                    deliveries::note_error(&shared.db, d.id, &reason)
                })
                .await;
                drop(busy);
                actix::clock::sleep(backoff(&shared.policy, not_sent, jitter())).await;
            }
            Verdict::RetryAmbiguous { reason } => {
                Counters::bump(&shared.counters.slack_ambiguous_failures);
                let so_far = persist(&shared, || {
                    deliveries::count_ambiguous(&shared.db, d.id, &reason)
                })
                .await;
                let so_far = u32::try_from(so_far).unwrap_or(u32::MAX);
                if so_far >= shared.policy.max_ambiguous_attempts {
                    let reason = format!(
                        "gave up after {so_far} attempts that may have posted; last: {reason}"
                    );
                    return give_up(&shared, d.id, &reason).await;
                }
                tracing::warn!(%reason, attempt = so_far, "Slack may have posted; retrying with backoff");
                drop(busy);
                actix::clock::sleep(backoff(&shared.policy, so_far, jitter())).await;
            }
            Verdict::RetryMuchLater { reason, after } => {
                tracing::warn!(%reason, wait_s = after.as_secs(), "Slack asks to come back much later");
                persist(&shared, || {
                    deliveries::note_error(&shared.db, d.id, &reason)
                })
                .await;
                drop(busy);
                actix::clock::sleep(after).await;
            }
            Verdict::RouteBroken { reason } => {
                let why = format!(
                    "Slack refused the channel ({reason}): invite the app to the channel or subscribe another one"
                );
                let failed = persist(&shared, || {
                    deliveries::disable_route(&shared.db, &d.team_id, &d.channel_id, &why)
                })
                .await;
                shared
                    .counters
                    .deliveries
                    .add("failed", failed.len() as u64);
                tracing::warn!(%reason, failed = failed.len(), "channel disabled");
                return Finish::Stop;
            }
            Verdict::TokenExpired { reason } if !refreshed => {
                tracing::info!(%reason, "the bot token expired; refreshing it and sending again");
                refreshed = true;
                drop(busy);
                if let Err(problem) = shared.tokens.after_expiry(&d.team_id, &token).await {
                    tracing::warn!(?problem, "the token could not be refreshed");
                }
            }
            Verdict::TokenExpired { reason } | Verdict::InstallationBroken { reason } => {
                let why = format!(
                    "Slack refused the bot token ({reason}): reinstall the app or run `sonar-slack workspaces add` with a new token"
                );
                let failed = persist(&shared, || {
                    deliveries::disable_workspace(&shared.db, &d.team_id, &why)
                })
                .await;
                shared
                    .counters
                    .deliveries
                    .add("failed", failed.len() as u64);
                tracing::error!(%reason, failed = failed.len(), "workspace disabled");
                return Finish::Stop;
            }
            Verdict::MessageBroken { reason } if !text_only => {
                tracing::warn!(%reason, "Slack refused the blocks; sending the plain-text version once");
                text_only = true;
            }
            Verdict::MessageBroken { reason } | Verdict::Failed { reason } => {
                let reason = format!("Slack refused the message: {reason}");
                return give_up(&shared, d.id, &reason).await;
            }
        }
    }
}

/// Retries a database write until it lands: a message Slack accepted must never be posted again
/// because its bookkeeping failed.
async fn persist<T, F, Fut>(shared: &Shared, mut write: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, sea_orm::DbErr>>,
{
    let mut attempt = 0;
    loop {
        match write().await {
            Ok(v) => return v,
            Err(e) => {
                attempt += 1;
                tracing::error!(error = %e, attempt, "database write failed; retrying");
                let wait = backoff(&shared.policy, attempt, jitter()).min(Duration::from_secs(30));
                actix::clock::sleep(wait).await;
            }
        }
    }
}

fn jitter() -> f64 {
    rand::rng().random::<f64>()
}

/// The attempt is called off before its request left: it is no longer in flight.
async fn call_off(shared: &Shared, id: i64) {
    persist(shared, || deliveries::call_off(&shared.db, id)).await;
    shared.disarm(id);
}

/// Records a delivery as failed for good, with the reason, and moves on.
async fn give_up(shared: &Shared, id: i64, reason: &str) -> Finish {
    persist(shared, || deliveries::mark_failed(&shared.db, id, reason)).await;
    shared.counters.deliveries.bump("failed");
    tracing::warn!(%reason, "delivery failed");
    Finish::Done
}
