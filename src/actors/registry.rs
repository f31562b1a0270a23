//! Registry: finds or lazily spawns the ProjectActor for an event and the ChannelActor for a
//! delivery, forgets those that have been idle (see [`super::idle`]), and owns the per-workspace
//! pacing gates.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;

use actix::prelude::*;

use super::Shared;
use super::channel::{ChannelActor, Deliver};
use super::idle::{ActorKey, Evict, Idle, Slot};
use super::pacing::WorkspaceGate;
use super::project::{IngestAnalysis, IngestError, IngestReport, ProjectActor, SeedGate, Seeded};
use crate::store::deliveries;
use crate::store::ingest::NewDelivery;

/// Sent by ProjectActors after a commit, and at start-up for what was left pending.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Dispatch {
    pub deliveries: Vec<NewDelivery>,
}

/// Sent by `/readyz` and `/metrics`: how many actors are alive. Answering it at all shows the actor
/// system is running.
#[derive(Message)]
#[rtype(result = "ActorStats")]
pub struct GetStats;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ActorStats {
    pub projects: usize,
    pub channels: usize,
}

pub struct Registry {
    shared: Arc<Shared>,
    projects: HashMap<(i64, String), Slot<ProjectActor>>,
    channels: HashMap<(String, String), Slot<ChannelActor>>,
    workspaces: HashMap<String, Arc<WorkspaceGate>>,
    /// A release of freed memory is scheduled (after a wave of evictions).
    trim_due: bool,
}

impl Registry {
    pub fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            projects: HashMap::new(),
            channels: HashMap::new(),
            workspaces: HashMap::new(),
            trim_due: false,
        }
    }
}

impl Actor for Registry {
    type Context = Context<Self>;

    /// Sweeps pending deliveries regularly: those whose channel another instance held when they
    /// were created, and any a crashed instance left behind.
    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(self.shared.sweep_every, |act, ctx| {
            let shared = act.shared.clone();
            ctx.spawn(
                async move { deliveries::pending(&shared.db).await }
                    .into_actor(act)
                    .map(|pending, act, ctx| match pending {
                        Ok(pending) => act.dispatch(ctx, pending),
                        Err(e) => tracing::warn!(error = %e, "cannot sweep pending deliveries"),
                    }),
            );
        });
    }
}

impl Handler<IngestAnalysis> for Registry {
    type Result = ResponseFuture<Result<IngestReport, IngestError>>;

    fn handle(&mut self, msg: IngestAnalysis, ctx: &mut Context<Self>) -> Self::Result {
        let addr = self.project(ctx, msg.connection_id, msg.event.project_key.as_str());
        // Queued now, in routing order; only the answer is awaited.
        let answer = addr.send(msg);
        Box::pin(async move { answer.await.unwrap_or(Err(IngestError::Stopped)) })
    }
}

impl Handler<SeedGate> for Registry {
    type Result = ResponseFuture<Result<Seeded, IngestError>>;

    fn handle(&mut self, msg: SeedGate, ctx: &mut Context<Self>) -> Self::Result {
        let addr = self.project(ctx, msg.connection_id, &msg.project_key);
        let answer = addr.send(msg);
        Box::pin(async move { answer.await.unwrap_or(Err(IngestError::Stopped)) })
    }
}

impl Handler<Dispatch> for Registry {
    type Result = ();

    fn handle(&mut self, msg: Dispatch, ctx: &mut Context<Self>) {
        self.dispatch(ctx, msg.deliveries);
    }
}

impl Handler<GetStats> for Registry {
    type Result = MessageResult<GetStats>;

    fn handle(&mut self, _: GetStats, _: &mut Context<Self>) -> Self::Result {
        MessageResult(ActorStats {
            projects: self
                .projects
                .values()
                .filter(|s| s.addr.connected())
                .count(),
            channels: self
                .channels
                .values()
                .filter(|s| s.addr.connected())
                .count(),
        })
    }
}

impl Handler<Idle> for Registry {
    type Result = ();

    /// Forgets the actor only if everything routed to it has reached it: then nothing waits in
    /// its mailbox, and the next message for its key starts a fresh actor.
    fn handle(&mut self, msg: Idle, ctx: &mut Context<Self>) {
        // Evictions come in waves; the memory they free is given back once the wave has passed.
        if !self.trim_due {
            self.trim_due = true;
            ctx.run_later(TRIM_AFTER, |act, _| {
                act.trim_due = false;
                super::trim::release_freed_memory();
            });
        }
        match msg.key {
            ActorKey::Project(connection, key) => {
                let key = (connection, key);
                if let Some(slot) = evictable(&mut self.projects, &key, msg.received) {
                    slot.addr.do_send(Evict);
                }
            }
            ActorKey::Channel(team, channel) => {
                let key = (team, channel);
                if let Some(slot) = evictable(&mut self.channels, &key, msg.received) {
                    slot.addr.do_send(Evict);
                }
            }
        }
    }
}

/// How long after the first eviction of a wave the freed memory is given back.
const TRIM_AFTER: std::time::Duration = std::time::Duration::from_secs(2);

/// Removes and returns the slot if the actor has received all that was sent to it.
fn evictable<K, A>(map: &mut HashMap<K, Slot<A>>, key: &K, received: u64) -> Option<Slot<A>>
where
    K: std::hash::Hash + Eq,
    A: Actor,
{
    if map.get(key)?.sent != received {
        return None;
    }
    let slot = map.remove(key)?;
    // Give memory back after a wave of evictions.
    if map.capacity() > 1024 && map.len() < map.capacity() / 4 {
        map.shrink_to_fit();
    }
    Some(slot)
}

/// The live actor of `key`, started by `start` when there is none (or it has died); the message
/// about to be routed to it is counted.
fn route<K, A>(map: &mut HashMap<K, Slot<A>>, key: K, start: impl FnOnce() -> Addr<A>) -> Addr<A>
where
    K: std::hash::Hash + Eq,
    A: Actor,
{
    let slot = match map.entry(key) {
        Entry::Occupied(e) if e.get().addr.connected() => e.into_mut(),
        Entry::Occupied(mut e) => {
            e.insert(Slot::new(start()));
            e.into_mut()
        }
        Entry::Vacant(e) => e.insert(Slot::new(start())),
    };
    slot.sent += 1;
    slot.addr.clone()
}

impl Registry {
    /// The project's actor, started on first use.
    fn project(
        &mut self,
        ctx: &mut Context<Self>,
        connection_id: i64,
        key: &str,
    ) -> Addr<ProjectActor> {
        let me = ctx.address();
        let shared = self.shared.clone();
        route(&mut self.projects, (connection_id, key.to_owned()), || {
            ProjectActor::new(shared, me, connection_id, key.to_owned()).start()
        })
    }

    fn dispatch(&mut self, ctx: &mut Context<Self>, deliveries: Vec<NewDelivery>) {
        for delivery in deliveries {
            tracing::debug!(
                delivery = delivery.id,
                project = %delivery.project_key,
                team = %delivery.team_id,
                channel = %delivery.channel_id,
                "delivery handed to its channel"
            );
            let key = (delivery.team_id.clone(), delivery.channel_id.clone());
            let gate = self
                .workspaces
                .entry(delivery.team_id.clone())
                .or_insert_with(|| Arc::new(WorkspaceGate::new(&self.shared.pacing)))
                .clone();
            let (shared, me) = (self.shared.clone(), ctx.address());
            let (team, channel) = key.clone();
            let addr = route(&mut self.channels, key, || {
                ChannelActor::new(shared, me, gate, team, channel).start()
            });
            addr.do_send(Deliver { delivery });
        }
    }
}
