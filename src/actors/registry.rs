//! Registry: finds or lazily spawns the ProjectActor for an event and the ChannelActor for a
//! delivery, and owns the per-workspace pacing gates.

use std::collections::HashMap;
use std::sync::Arc;

use actix::prelude::*;

use super::Shared;
use super::channel::{ChannelActor, Deliver};
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
    projects: HashMap<(i64, String), Addr<ProjectActor>>,
    channels: HashMap<(String, String), Addr<ChannelActor>>,
    workspaces: HashMap<String, Arc<WorkspaceGate>>,
}

impl Registry {
    pub fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            projects: HashMap::new(),
            channels: HashMap::new(),
            workspaces: HashMap::new(),
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
                    .map(|pending, act, _| match pending {
                        Ok(pending) => act.dispatch(pending),
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
        Box::pin(async move { addr.send(msg).await.unwrap_or(Err(IngestError::Stopped)) })
    }
}

impl Handler<SeedGate> for Registry {
    type Result = ResponseFuture<Result<Seeded, IngestError>>;

    fn handle(&mut self, msg: SeedGate, ctx: &mut Context<Self>) -> Self::Result {
        let addr = self.project(ctx, msg.connection_id, &msg.project_key);
        Box::pin(async move { addr.send(msg).await.unwrap_or(Err(IngestError::Stopped)) })
    }
}

impl Handler<Dispatch> for Registry {
    type Result = ();

    fn handle(&mut self, msg: Dispatch, _: &mut Context<Self>) {
        self.dispatch(msg.deliveries);
    }
}

impl Handler<GetStats> for Registry {
    type Result = MessageResult<GetStats>;

    fn handle(&mut self, _: GetStats, _: &mut Context<Self>) -> Self::Result {
        MessageResult(ActorStats {
            projects: self.projects.values().filter(|a| a.connected()).count(),
            channels: self.channels.values().filter(|a| a.connected()).count(),
        })
    }
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
        self.projects
            .entry((connection_id, key.to_owned()))
            .or_insert_with(|| ProjectActor::new(shared, me, connection_id, key.to_owned()).start())
            .clone()
    }

    fn dispatch(&mut self, deliveries: Vec<NewDelivery>) {
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
            let shared = self.shared.clone();
            let addr = self
                .channels
                .entry(key.clone())
                .or_insert_with(|| ChannelActor::new(shared, gate, key.0, key.1).start());
            addr.do_send(Deliver { delivery });
        }
    }
}
