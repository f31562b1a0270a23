//! SeaORM entities for sonar-slack's tables (see the `migration` crate for the schema).

pub mod channel_lease;
pub mod connection;
pub mod delivery;
pub mod link_token;
pub mod notification;
pub mod oauth_state;
pub mod project_state;
pub mod slack_event;
pub mod subscription;
pub mod user_link;
pub mod webhook_event;
pub mod workspace;
