//! The actor system: a [`Registry`] that spawns one [`ProjectActor`] per SonarQube project and one
//! [`ChannelActor`] per Slack channel, and routes messages between them.

pub mod channel;
pub mod idle;
pub mod pacing;
mod post;
pub mod project;
pub mod registry;
pub mod tokens;
mod trim;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sea_orm::DatabaseConnection;

use crate::crypto::Sealer;
use crate::domain::delivery::RetryPolicy;
use crate::slack::SlackClient;
use crate::store::writer::Writer;
use crate::telemetry::Counters;

pub use channel::ChannelActor;
pub use pacing::Pacing;
pub use project::{IngestAnalysis, IngestReport, ProjectActor, SeedGate, Seeded};
pub use registry::{ActorStats, Dispatch, GetStats, Registry};

/// What every actor needs, shared read-only.
#[derive(Debug)]
pub struct Shared {
    pub db: DatabaseConnection,
    /// Group-commits ingest writes.
    pub writer: Writer,
    pub sealer: Sealer,
    pub slack: SlackClient,
    /// Bot tokens, refreshed when they rotate.
    pub tokens: tokens::BotTokens,
    pub policy: RetryPolicy,
    pub pacing: Pacing,
    pub counters: Arc<Counters>,
    /// This process's name in channel leases.
    pub instance_id: String,
    /// How long a channel lease lasts after it is taken or renewed.
    pub lease_ttl: Duration,
    /// How often pending deliveries are swept up.
    pub sweep_every: Duration,
    /// How long a project's or channel's actor may sit idle before it is evicted.
    pub actor_idle: Duration,
    /// Requests to Slack under way (including recording their outcome); a stop waits for them.
    pub in_flight: AtomicUsize,
    /// Set when the service stops: no new request is started.
    pub stopping: AtomicBool,
    /// Deliveries marked in flight in the database whose request has not left yet (still being
    /// paced): a stop calls them off, so the next start does not count them as ambiguous.
    pub armed: Mutex<HashSet<i64>>,
    /// Channels where the previous run had a request out when it stopped, with when their first
    /// post may go: one interval after this run started (that post may have reached Slack at any
    /// moment until the old process ended, which its database rows cannot tell).
    pub restart_holds: Mutex<HashMap<(String, String), tokio::time::Instant>>,
}

impl Shared {
    pub(crate) fn arm(&self, id: i64) {
        self.armed_set().insert(id);
    }

    pub(crate) fn disarm(&self, id: i64) {
        self.armed_set().remove(&id);
    }

    /// Takes the ids still armed (a stop calls them off).
    pub fn take_armed(&self) -> Vec<i64> {
        self.armed_set().drain().collect()
    }

    fn armed_set(&self) -> std::sync::MutexGuard<'_, HashSet<i64>> {
        self.armed.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Counts one request to Slack as under way for as long as it lives.
pub(crate) struct Busy<'a>(&'a AtomicUsize);

impl<'a> Busy<'a> {
    pub(crate) fn enter(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::SeqCst);
        Self(counter)
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}
