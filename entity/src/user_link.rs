//! A Slack user's link to their SonarQube account on one connection, with the sealed user token.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_links")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub team_id: String,
    pub slack_user_id: String,
    pub connection_id: i64,
    pub sonar_login: String,
    pub sonar_name: Option<String>,
    /// The SonarQube user token sealed with AES-256-GCM.
    pub token_sealed: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
