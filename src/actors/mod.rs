//! The actor system: a [`Registry`] that spawns one [`ProjectActor`] per SonarQube project and one
//! [`ChannelActor`] per Slack channel, and routes messages between them.

pub mod channel;
pub mod pacing;
mod post;
pub mod project;
pub mod registry;

use std::sync::Arc;
use std::time::Duration;

use sea_orm::DatabaseConnection;

use crate::crypto::Sealer;
use crate::domain::delivery::RetryPolicy;
use crate::slack::SlackClient;
use crate::store::writer::Writer;
use crate::telemetry::Counters;

pub use channel::ChannelActor;
pub use pacing::Pacing;
pub use project::{IngestAnalysis, IngestReport, ProjectActor};
pub use registry::{Dispatch, Registry};

/// What every actor needs, shared read-only.
#[derive(Debug)]
pub struct Shared {
    pub db: DatabaseConnection,
    /// Group-commits ingest writes.
    pub writer: Writer,
    pub sealer: Sealer,
    pub slack: SlackClient,
    pub policy: RetryPolicy,
    pub pacing: Pacing,
    pub counters: Arc<Counters>,
    /// This process's name in channel leases.
    pub instance_id: String,
    /// How long a channel lease lasts after it is taken or renewed.
    pub lease_ttl: Duration,
    /// How often pending deliveries are swept up.
    pub sweep_every: Duration,
}
