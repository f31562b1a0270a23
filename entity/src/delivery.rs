//! One notification to one channel: `pending` → `sent` (with Slack's `ts`) | `failed` (with the reason).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "deliveries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub notification_id: i64,
    pub subscription_id: i64,
    pub team_id: String,
    pub channel_id: String,
    pub status: String,
    /// Requests made, counted before each is sent (so a crash mid-request still shows it).
    pub attempts: i32,
    /// Failures after which the message may nonetheless have been posted.
    pub ambiguous_attempts: i32,
    /// Set while a request is out; still set after a crash means it may have been posted.
    pub in_flight: bool,
    pub slack_ts: Option<String>,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
