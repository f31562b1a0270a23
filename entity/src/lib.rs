//! SeaORM entities for sonar-slack's tables (see the `migration` crate for the schema).

pub mod channel_lease;
pub mod connection;
pub mod delivery;
pub mod notification;
pub mod project_state;
pub mod subscription;
pub mod webhook_event;
pub mod workspace;
