//! ProjectActor: one per (connection, project key). It serializes the events of its project,
//! remembers the main branch's last gate, decides with [`crate::domain::decision`], and commits the
//! outcome in one transaction before it answers.

use std::sync::Arc;

use actix::prelude::*;
use chrono::Utc;

use super::Shared;
use super::idle::{ActorKey, Evict, Evictable, Idle, IdleClock};
use super::registry::{Dispatch, Registry};
use crate::domain::decision::{self, Decision, IgnoreReason};
use crate::domain::message;
use crate::domain::webhook::AnalysisEvent;
use crate::store::ingest::{self, IngestOutcome, IngestWrite, StoredMemory};

/// Sent by the webhook handler (through the [`Registry`]): decide on one event and make it durable.
#[derive(Message)]
#[rtype(result = "Result<IngestReport, IngestError>")]
pub struct IngestAnalysis {
    pub connection_id: i64,
    pub event: AnalysisEvent,
    pub body: String,
}

/// What happened to one event, once it is committed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IngestReport {
    /// `notified`, `first_status`, `unchanged`, or an ignore reason such as `pull_request`.
    pub decision: String,
    pub detail: String,
    /// Deliveries created (one per subscribed channel) when the decision is `notified`.
    pub channels: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("the database refused the write: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("the project's state kept changing under concurrent writers; send the event again")]
    Contended,
    #[error("the project's worker is shutting down; send the event again")]
    Stopped,
}

/// How often a conditional update may lose to another writer before the event is refused.
const MAX_CONFLICTS: usize = 5;

pub struct ProjectActor {
    shared: Arc<Shared>,
    registry: Addr<Registry>,
    connection_id: i64,
    project_key: String,
    /// `None` until loaded from the database; then the last committed memory, if any.
    memory: Option<Option<StoredMemory>>,
    /// When it was last busy; idle long enough, it is evicted (the memory is in the database).
    clock: IdleClock,
    /// An event or seed is being decided and committed.
    busy: bool,
}

impl ProjectActor {
    pub fn new(
        shared: Arc<Shared>,
        registry: Addr<Registry>,
        connection_id: i64,
        project_key: String,
    ) -> Self {
        Self {
            registry,
            connection_id,
            project_key,
            memory: None,
            clock: IdleClock::new(shared.actor_idle),
            shared,
            busy: false,
        }
    }

    /// A handler starts: it counts as work until [`ProjectActor::rest`].
    fn begin(&mut self) {
        self.clock.received();
        self.busy = true;
    }

    fn rest(&mut self, ctx: &mut Context<Self>) {
        self.busy = false;
        self.clock.touch();
        self.arm(ctx);
    }
}

impl Actor for ProjectActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.arm(ctx);
    }
}

impl Evictable for ProjectActor {
    fn clock(&mut self) -> &mut IdleClock {
        &mut self.clock
    }

    fn at_rest(&self) -> bool {
        !self.busy
    }

    fn key(&self) -> ActorKey {
        ActorKey::Project(self.connection_id, self.project_key.clone())
    }

    fn registry(&self) -> Recipient<Idle> {
        self.registry.clone().recipient()
    }
}

impl Handler<Evict> for ProjectActor {
    type Result = ();

    fn handle(&mut self, _: Evict, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

impl Handler<IngestAnalysis> for ProjectActor {
    type Result = AtomicResponse<Self, Result<IngestReport, IngestError>>;

    fn handle(&mut self, msg: IngestAnalysis, _: &mut Context<Self>) -> Self::Result {
        self.begin();
        let shared = self.shared.clone();
        let cached = self.memory.clone();
        let connection_id = self.connection_id;
        let project_key = self.project_key.clone();
        let work = async move {
            let mut known = cached;
            for _ in 0..MAX_CONFLICTS {
                let current = match known.take() {
                    Some(m) => m,
                    None => ingest::load_memory(&shared.db, connection_id, &project_key).await?,
                };
                match apply(&shared, connection_id, &project_key, &msg, current.as_ref()).await? {
                    Applied::Done {
                        report,
                        memory,
                        deliveries,
                    } => {
                        return Ok((report, Some(memory), deliveries));
                    }
                    // Another writer moved the state on: read it again and decide again.
                    Applied::Conflict => known = None,
                }
            }
            Err(IngestError::Contended)
        };
        AtomicResponse::new(Box::pin(work.into_actor(self).map(|result, act, ctx| {
            act.rest(ctx);
            match result {
                Ok((report, memory, deliveries)) => {
                    act.memory = memory;
                    if !deliveries.is_empty() {
                        act.registry.do_send(Dispatch { deliveries });
                    }
                    Ok(report)
                }
                Err(e) => {
                    // What is on disk is unknown now: read it again next time.
                    act.memory = None;
                    Err(e)
                }
            }
        })))
    }
}

/// Sent by `/sonarqube subscribe` (through the Registry): the gate SonarQube reports now, kept only
/// if nothing is known of the project yet, so the next analysis can already be a transition.
#[derive(Message)]
#[rtype(result = "Result<Seeded, IngestError>")]
pub struct SeedGate {
    pub connection_id: i64,
    pub project_key: String,
    pub gate: decision::Gate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seeded {
    Stored,
    /// A gate was already known (from a webhook or an earlier subscription); it is kept.
    AlreadyKnown(decision::Gate),
}

impl Handler<SeedGate> for ProjectActor {
    type Result = AtomicResponse<Self, Result<Seeded, IngestError>>;

    fn handle(&mut self, msg: SeedGate, _: &mut Context<Self>) -> Self::Result {
        self.begin();
        let shared = self.shared.clone();
        let cached = self.memory.clone();
        let (connection_id, project_key) = (self.connection_id, self.project_key.clone());
        let work = async move {
            let known = match cached {
                Some(m) => m,
                None => ingest::load_memory(&shared.db, connection_id, &project_key).await?,
            };
            if let Some(k) = known {
                return Ok(Seeded::AlreadyKnown(k.memory.gate));
            }
            let stored = ingest::seed_state(
                &shared.db,
                connection_id,
                &project_key,
                msg.gate,
                Utc::now(),
            )
            .await?;
            Ok(if stored {
                Seeded::Stored
            } else {
                // Another instance stored a state first; ours is not needed.
                Seeded::AlreadyKnown(msg.gate)
            })
        };
        AtomicResponse::new(Box::pin(work.into_actor(self).map(|result, act, ctx| {
            act.rest(ctx);
            // Reloaded at the next event, whatever happened here.
            act.memory = None;
            result
        })))
    }
}

enum Applied {
    Done {
        report: IngestReport,
        memory: Option<StoredMemory>,
        deliveries: Vec<ingest::NewDelivery>,
    },
    Conflict,
}

async fn apply(
    shared: &Shared,
    connection_id: i64,
    project_key: &str,
    msg: &IngestAnalysis,
    current: Option<&StoredMemory>,
) -> Result<Applied, IngestError> {
    let now = Utc::now();
    let event = &msg.event;
    let decision = decision::decide(current.map(|c| &c.memory), event, now);
    let next = decision::remember(current.map(|c| &c.memory), event, &decision, now);
    let notification = match &decision {
        Decision::Notify(t) => {
            let m = message::render(event, t, now);
            let json =
                serde_json::to_string(&m).map_err(|e| sea_orm::DbErr::Custom(e.to_string()))?;
            Some((
                if t.to == decision::Gate::Failed {
                    "failed"
                } else {
                    "recovered"
                },
                json,
            ))
        }
        _ => None,
    };
    let outcome = shared
        .writer
        .commit(IngestWrite {
            connection_id,
            project_key: project_key.to_owned(),
            dedupe_key: event.dedupe_key.clone(),
            decision_code: decision.code(),
            body: msg.body.clone(),
            state: next.clone().map(|m| (m, current.map(|c| c.version))),
            notification,
            now,
        })
        .await?;
    Ok(match outcome {
        IngestOutcome::Conflict => Applied::Conflict,
        IngestOutcome::Duplicate => Applied::Done {
            report: report(&Decision::Ignore(IgnoreReason::Duplicate), 0),
            memory: current.cloned(),
            deliveries: Vec::new(),
        },
        IngestOutcome::Committed {
            version,
            deliveries,
        } => {
            if let Decision::Notify(t) = &decision {
                shared.counters.transitions.bump(t.to.as_str());
            }
            tracing::info!(
                connection_id,
                project = project_key,
                decision = decision.code(),
                channels = deliveries.len(),
                "{}",
                decision.describe()
            );
            Applied::Done {
                report: report(&decision, deliveries.len()),
                memory: match (next, version) {
                    (Some(memory), Some(version)) => Some(StoredMemory { memory, version }),
                    _ => current.cloned(),
                },
                deliveries,
            }
        }
    })
}

fn report(decision: &Decision, channels: usize) -> IngestReport {
    IngestReport {
        decision: decision.code().to_owned(),
        detail: decision.describe(),
        channels,
    }
}
