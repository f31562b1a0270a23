//! Slack app installations: install and reinstall in place, rotated token pairs, and uninstalls.

use chrono::{DateTime, Utc};
use entity::{subscription, workspace};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, Set, TransactionTrait,
};

use super::{deliveries, status};

/// What an OAuth install tells us about a workspace; tokens already sealed.
#[derive(Debug, Clone)]
pub struct Installation {
    /// The team, or the enterprise for an organization-wide install.
    pub team_id: String,
    pub team_name: Option<String>,
    pub enterprise_id: Option<String>,
    pub bot_user_id: Option<String>,
    pub app_id: Option<String>,
    pub scopes: Option<String>,
    pub installed_by: Option<String>,
    pub bot_token_sealed: String,
    pub refresh_token_sealed: Option<String>,
    pub token_expires_at: Option<DateTime<Utc>>,
}

/// Adds the workspace, or updates it in place and re-enables it (its subscriptions are kept).
pub async fn install(db: &DatabaseConnection, i: &Installation) -> Result<(), DbErr> {
    use workspace::Column as C;
    let now = Utc::now();
    let row = workspace::ActiveModel {
        team_id: Set(i.team_id.clone()),
        team_name: Set(i.team_name.clone()),
        bot_token_sealed: Set(i.bot_token_sealed.clone()),
        status: Set(status::ACTIVE.to_owned()),
        disabled_reason: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        enterprise_id: Set(i.enterprise_id.clone()),
        bot_user_id: Set(i.bot_user_id.clone()),
        app_id: Set(i.app_id.clone()),
        scopes: Set(i.scopes.clone()),
        installed_by: Set(i.installed_by.clone()),
        refresh_token_sealed: Set(i.refresh_token_sealed.clone()),
        token_expires_at: Set(i.token_expires_at),
    };
    workspace::Entity::insert(row)
        .on_conflict(
            OnConflict::column(C::TeamId)
                .update_columns([
                    C::TeamName,
                    C::BotTokenSealed,
                    C::Status,
                    C::DisabledReason,
                    C::UpdatedAt,
                    C::EnterpriseId,
                    C::BotUserId,
                    C::AppId,
                    C::Scopes,
                    C::InstalledBy,
                    C::RefreshTokenSealed,
                    C::TokenExpiresAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Stores a refreshed token pair, only if the refresh token used is still the stored one (another
/// instance may have refreshed first). Returns whether this pair was stored.
pub async fn store_rotated(
    db: &DatabaseConnection,
    team: &str,
    used_refresh_sealed: &str,
    bot_token_sealed: &str,
    refresh_token_sealed: &str,
    expires_at: Option<DateTime<Utc>>,
) -> Result<bool, DbErr> {
    use workspace::Column as C;
    let done = workspace::Entity::update_many()
        .col_expr(C::BotTokenSealed, Expr::value(bot_token_sealed))
        .col_expr(C::RefreshTokenSealed, Expr::value(refresh_token_sealed))
        .col_expr(C::TokenExpiresAt, Expr::value(expires_at))
        .col_expr(C::UpdatedAt, Expr::value(Utc::now()))
        .filter(C::TeamId.eq(team))
        .filter(C::RefreshTokenSealed.eq(used_refresh_sealed))
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}

/// What an uninstall did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Uninstalled {
    pub failed_deliveries: usize,
    pub removed_subscriptions: u64,
}

/// The app was uninstalled (or its bot token revoked): disables the workspace, forgets its tokens,
/// fails what was pending for it, and keeps its subscriptions for a reinstall unless told not to.
pub async fn uninstall(
    db: &DatabaseConnection,
    team: &str,
    reason: &str,
    keep_subscriptions: bool,
) -> Result<Uninstalled, DbErr> {
    use workspace::Column as C;
    let failed = deliveries::disable_workspace(db, team, reason).await?;
    let txn = db.begin().await?;
    workspace::Entity::update_many()
        .col_expr(C::BotTokenSealed, Expr::value(""))
        .col_expr(C::RefreshTokenSealed, Expr::value(Option::<String>::None))
        .col_expr(
            C::TokenExpiresAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(C::TeamId.eq(team))
        .exec(&txn)
        .await?;
    let removed_subscriptions = if keep_subscriptions {
        0
    } else {
        subscription::Entity::delete_many()
            .filter(subscription::Column::TeamId.eq(team))
            .exec(&txn)
            .await?
            .rows_affected
    };
    txn.commit().await?;
    Ok(Uninstalled {
        failed_deliveries: failed.len(),
        removed_subscriptions,
    })
}

/// The workspace whose bot user this is (`tokens_revoked` names bot users, not teams).
pub async fn by_bot_user(
    db: &DatabaseConnection,
    bot_user_id: &str,
) -> Result<Vec<workspace::Model>, DbErr> {
    workspace::Entity::find()
        .filter(workspace::Column::BotUserId.eq(bot_user_id))
        .all(db)
        .await
}
