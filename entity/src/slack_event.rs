//! An Events API delivery claimed or handled, by `event_id`, so each is handled once and Slack's
//! retries are only acknowledged.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "slack_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub event_id: String,
    pub team_id: Option<String>,
    pub event_type: String,
    /// When claimed by a handler (or claimed again after a crash).
    pub received_at: DateTimeUtc,
    /// Set once handled; until then a retry waits for the handler, or takes over a stale claim.
    pub handled_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
