//! Channel leases: a conditional upsert that grants a channel to one instance at a time.

use chrono::{DateTime, Utc};
use entity::channel_lease;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set};

/// Takes or renews the lease on a channel until `until`. Succeeds when the channel is free, already
/// ours, or its lease has expired; fails (returns `false`) while another instance holds it.
pub async fn acquire(
    db: &impl ConnectionTrait,
    team: &str,
    channel: &str,
    owner: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let row = channel_lease::ActiveModel {
        team_id: Set(team.to_owned()),
        channel_id: Set(channel.to_owned()),
        owner: Set(owner.to_owned()),
        expires_at: Set(until),
    };
    let taken = channel_lease::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([
                channel_lease::Column::TeamId,
                channel_lease::Column::ChannelId,
            ])
            .update_columns([
                channel_lease::Column::Owner,
                channel_lease::Column::ExpiresAt,
            ])
            .action_and_where(
                Expr::col((channel_lease::Entity, channel_lease::Column::Owner))
                    .eq(owner)
                    .or(
                        Expr::col((channel_lease::Entity, channel_lease::Column::ExpiresAt))
                            .lt(now),
                    ),
            )
            .to_owned(),
        )
        .exec_without_returning(db)
        .await;
    match taken {
        Ok(n) => Ok(n > 0),
        Err(DbErr::RecordNotInserted) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Gives up our leases (on a clean shutdown), so another instance can take over at once.
pub async fn release_all(db: &impl ConnectionTrait, owner: &str) -> Result<u64, DbErr> {
    let res = channel_lease::Entity::delete_many()
        .filter(channel_lease::Column::Owner.eq(owner))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}
