//! An installed Slack workspace: its sealed bot token (and refresh token with rotation) and install details.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "workspaces")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub team_id: String,
    pub team_name: Option<String>,
    /// The bot token sealed with AES-256-GCM.
    pub bot_token_sealed: String,
    /// `active` or `disabled`.
    pub status: String,
    pub disabled_reason: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// The Enterprise Grid organization, for installs in one.
    pub enterprise_id: Option<String>,
    /// The bot's own user id (`tokens_revoked` names it).
    pub bot_user_id: Option<String>,
    pub app_id: Option<String>,
    /// Granted bot scopes, comma-separated.
    pub scopes: Option<String>,
    /// The Slack user who installed the app.
    pub installed_by: Option<String>,
    /// With token rotation: the single-use refresh token, sealed.
    pub refresh_token_sealed: Option<String>,
    /// With token rotation: when the bot token stops working.
    pub token_expires_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
