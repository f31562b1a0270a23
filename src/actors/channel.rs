//! ChannelActor: one per (workspace, channel). It posts its deliveries one at a time, in the order
//! they were created, paced by the channel's and the workspace's limiters, and acts on every answer
//! Slack can give (see [`crate::domain::delivery::judge`]).

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use governor::{DefaultDirectRateLimiter, RateLimiter};
use tracing::Instrument;

use super::Shared;
use super::idle::{ActorKey, Evict, Evictable, Idle, IdleClock};
use super::pacing::WorkspaceGate;
use super::post::{Finish, Lease, deliver_one};
use super::registry::Registry;
use crate::store::deliveries;
use crate::store::ingest::NewDelivery;

/// Sent by the Registry: post this delivery after those already queued.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Deliver {
    pub delivery: NewDelivery,
}

pub struct ChannelActor {
    shared: Arc<Shared>,
    workspace: Arc<WorkspaceGate>,
    limiter: Arc<DefaultDirectRateLimiter>,
    lease: Arc<Lease>,
    team_id: String,
    channel_id: String,
    queue: VecDeque<NewDelivery>,
    queued: HashSet<i64>,
    busy: bool,
    registry: Addr<Registry>,
    /// Idle long enough (never less than a full burst at the channel's pace, so a fresh limiter
    /// is no more generous than this one), it is evicted.
    clock: IdleClock,
}

impl ChannelActor {
    pub fn new(
        shared: Arc<Shared>,
        registry: Addr<Registry>,
        workspace: Arc<WorkspaceGate>,
        team_id: String,
        channel_id: String,
    ) -> Self {
        let limiter = Arc::new(RateLimiter::direct(shared.pacing.channel_quota()));
        let clock = IdleClock::new(shared.actor_idle.max(shared.pacing.channel_refill()));
        Self {
            shared,
            workspace,
            limiter,
            lease: Arc::default(),
            team_id,
            channel_id,
            queue: VecDeque::new(),
            queued: HashSet::new(),
            busy: false,
            registry,
            clock,
        }
    }

    fn pump(&mut self, ctx: &mut Context<Self>) {
        if self.busy {
            return;
        }
        let Some(next) = self.queue.front().cloned() else {
            return;
        };
        self.busy = true;
        let span = tracing::info_span!(
            "deliver",
            delivery = next.id,
            project = %next.project_key,
            team = %next.team_id,
            channel = %next.channel_id
        );
        let job = deliver_one(
            self.shared.clone(),
            self.workspace.clone(),
            self.limiter.clone(),
            self.lease.clone(),
            next,
        )
        .instrument(span);
        ctx.spawn(job.into_actor(self).map(|finish, act, ctx| {
            act.busy = false;
            act.clock.touch();
            match finish {
                Finish::Done => {
                    if let Some(done) = act.queue.pop_front() {
                        act.queued.remove(&done.id);
                    }
                }
                Finish::Stop | Finish::Yield | Finish::Park => {
                    act.queue.clear();
                    act.queued.clear();
                }
                Finish::Behind(older) => {
                    if act.queued.insert(older.id) {
                        act.queue.push_front(older);
                    } else if let Some(pos) = act.queue.iter().position(|q| q.id == older.id) {
                        // Already queued further back: move it to the front.
                        if let Some(item) = act.queue.remove(pos) {
                            act.queue.push_front(item);
                        }
                    }
                }
            }
            act.pump(ctx);
            act.arm(ctx);
        }));
    }
}

impl Evictable for ChannelActor {
    fn clock(&mut self) -> &mut IdleClock {
        &mut self.clock
    }

    fn at_rest(&self) -> bool {
        !self.busy && self.queue.is_empty()
    }

    fn key(&self) -> ActorKey {
        ActorKey::Channel(self.team_id.clone(), self.channel_id.clone())
    }

    fn registry(&self) -> Recipient<Idle> {
        self.registry.clone().recipient()
    }
}

impl Handler<Evict> for ChannelActor {
    type Result = ();

    fn handle(&mut self, _: Evict, ctx: &mut Context<Self>) {
        tracing::debug!(team = %self.team_id, channel = %self.channel_id, "idle channel actor evicted");
        ctx.stop();
    }
}

impl Actor for ChannelActor {
    type Context = Context<Self>;

    /// Before its first post, waits out the pace from the channel's last attempt, which may have
    /// been made by an earlier run (a restart must not post twice within one interval). An attempt
    /// is recorded before its pacing wait (at most one interval) and its post, and a crash can come
    /// before the post's outcome is recorded: so the wait is two intervals from the last record.
    fn started(&mut self, ctx: &mut Context<Self>) {
        tracing::debug!(team = %self.team_id, channel = %self.channel_id, "channel actor started");
        self.arm(ctx);
        let (shared, team, channel) = (
            self.shared.clone(),
            self.team_id.clone(),
            self.channel_id.clone(),
        );
        ctx.wait(
            async move {
                let interval = shared.pacing.channel_interval();
                let settle = interval * 2;
                let wait = match deliveries::last_attempt_at(&shared.db, &team, &channel).await {
                    Ok(Some(last)) => (last + settle)
                        .signed_duration_since(chrono::Utc::now())
                        .to_std()
                        .unwrap_or_default(),
                    Ok(None) => Duration::ZERO,
                    Err(e) => {
                        tracing::warn!(%team, %channel, error = %e, "cannot read the channel's last post; waiting two intervals");
                        settle
                    }
                };
                // A request out when the last run stopped may have posted right before its end.
                let held = shared
                    .restart_holds
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .remove(&(team.to_string(), channel.to_string()))
                    .map(|until| until.saturating_duration_since(tokio::time::Instant::now()))
                    .unwrap_or_default();
                let wait = wait.min(settle).max(held);
                if !wait.is_zero() {
                    actix::clock::sleep(wait).await;
                }
            }
            .into_actor(self),
        );
    }
}

impl Handler<Deliver> for ChannelActor {
    type Result = ();

    fn handle(&mut self, msg: Deliver, ctx: &mut Context<Self>) {
        self.clock.received();
        self.arm(ctx);
        // At start-up a delivery can be dispatched both by its ingest and by the pending sweep.
        if self.queued.insert(msg.delivery.id) {
            self.queue.push_back(msg.delivery);
        }
        self.pump(ctx);
    }
}
