//! The last applied main-branch gate status of one project, with its ordering key.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "project_states")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub connection_id: i64,
    pub project_key: String,
    /// `passed` or `failed`.
    pub gate: String,
    pub analysed_at: Option<DateTimeUtc>,
    pub changed_at: Option<DateTimeUtc>,
    pub failing_since: Option<DateTimeUtc>,
    /// Bumped on every update; updates are conditional on it (optimistic concurrency).
    pub version: i64,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
