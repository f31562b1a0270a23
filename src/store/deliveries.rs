//! Delivery rows through their life (`pending → sent | failed`) and the route and workspace
//! switches a Slack error can throw.

use chrono::Utc;
use entity::{delivery, notification, subscription, workspace};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
    QueryOrder, TransactionTrait,
};

use super::ingest::NewDelivery;
use super::status;

/// Every pending delivery with its message, oldest first (so each channel keeps its order).
pub async fn pending(db: &impl ConnectionTrait) -> Result<Vec<NewDelivery>, DbErr> {
    let rows = delivery::Entity::find()
        .filter(delivery::Column::Status.eq(status::PENDING))
        .order_by_asc(delivery::Column::Id)
        .all(db)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(500) {
        let notes = notification::Entity::find()
            .filter(notification::Column::Id.is_in(chunk.iter().map(|d| d.notification_id)))
            .all(db)
            .await?;
        for d in chunk {
            if let Some(n) = notes.iter().find(|n| n.id == d.notification_id) {
                out.push(NewDelivery {
                    id: d.id,
                    project_key: n.project_key.clone(),
                    team_id: d.team_id.clone(),
                    channel_id: d.channel_id.clone(),
                    message: n.message.clone(),
                    created_at: d.created_at,
                });
            }
        }
    }
    Ok(out)
}

/// Updates a delivery that is still pending (a row already failed by a removal or a broken route
/// keeps the reason it failed with), and clears its in-flight flag.
async fn set(
    db: &impl ConnectionTrait,
    id: i64,
    changes: Vec<(delivery::Column, sea_orm::sea_query::SimpleExpr)>,
) -> Result<(), DbErr> {
    let mut update = delivery::Entity::update_many()
        .col_expr(delivery::Column::UpdatedAt, Expr::value(Utc::now()))
        .col_expr(delivery::Column::InFlight, Expr::value(false))
        .filter(delivery::Column::Id.eq(id))
        .filter(delivery::Column::Status.eq(status::PENDING));
    for (col, value) in changes {
        update = update.col_expr(col, value);
    }
    update.exec(db).await.map(|_| ())
}

/// Counts an attempt before its request leaves, so a crash mid-request is visible afterwards.
/// Returns `false` when the delivery is no longer pending (another run or instance finished it):
/// then it must not be posted.
pub async fn count_attempt(db: &impl ConnectionTrait, id: i64) -> Result<bool, DbErr> {
    let res = delivery::Entity::update_many()
        .col_expr(
            delivery::Column::Attempts,
            Expr::col(delivery::Column::Attempts).add(1),
        )
        .col_expr(delivery::Column::InFlight, Expr::value(true))
        .col_expr(delivery::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(delivery::Column::Id.eq(id))
        .filter(delivery::Column::Status.eq(status::PENDING))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Slack accepted the message: that is recorded whatever happened to the row meanwhile.
pub async fn mark_sent(db: &impl ConnectionTrait, id: i64, ts: &str) -> Result<(), DbErr> {
    delivery::Entity::update_many()
        .col_expr(delivery::Column::Status, Expr::value(status::SENT))
        .col_expr(delivery::Column::SlackTs, Expr::value(ts))
        .col_expr(delivery::Column::InFlight, Expr::value(false))
        .col_expr(delivery::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(delivery::Column::Id.eq(id))
        .exec(db)
        .await
        .map(|_| ())
}

pub async fn mark_failed(db: &impl ConnectionTrait, id: i64, reason: &str) -> Result<(), DbErr> {
    set(
        db,
        id,
        vec![
            (delivery::Column::Status, Expr::value(status::FAILED)),
            (delivery::Column::LastError, Expr::value(reason)),
        ],
    )
    .await
}

/// Records a failure after which the message may have been posted; returns how many such failures
/// the delivery has had in all (across restarts).
pub async fn count_ambiguous(
    db: &impl ConnectionTrait,
    id: i64,
    reason: &str,
) -> Result<i32, DbErr> {
    set(
        db,
        id,
        vec![
            (
                delivery::Column::AmbiguousAttempts,
                Expr::col(delivery::Column::AmbiguousAttempts).add(1),
            ),
            (delivery::Column::LastError, Expr::value(reason)),
        ],
    )
    .await?;
    Ok(get(db, id).await?.map_or(0, |d| d.ambiguous_attempts))
}

/// The attempt was called off before its request left (shutting down).
pub async fn call_off(db: &impl ConnectionTrait, id: i64) -> Result<(), DbErr> {
    set(db, id, vec![]).await
}

pub async fn note_error(db: &impl ConnectionTrait, id: i64, reason: &str) -> Result<(), DbErr> {
    set(
        db,
        id,
        vec![(delivery::Column::LastError, Expr::value(reason))],
    )
    .await
}

/// The channel cannot be posted to: disable its subscriptions and fail what is pending for it.
/// Returns the ids of the failed deliveries.
pub async fn disable_route(
    db: &DatabaseConnection,
    team: &str,
    channel: &str,
    reason: &str,
) -> Result<Vec<i64>, DbErr> {
    let txn = db.begin().await?;
    subscription::Entity::update_many()
        .col_expr(subscription::Column::Status, Expr::value(status::DISABLED))
        .col_expr(subscription::Column::DisabledReason, Expr::value(reason))
        .filter(subscription::Column::TeamId.eq(team))
        .filter(subscription::Column::ChannelId.eq(channel))
        .filter(subscription::Column::Status.eq(status::ACTIVE))
        .exec(&txn)
        .await?;
    let route = Condition::all()
        .add(delivery::Column::TeamId.eq(team))
        .add(delivery::Column::ChannelId.eq(channel));
    let failed = fail_pending(&txn, route, reason).await?;
    txn.commit().await?;
    Ok(failed)
}

/// The workspace's token is unusable: disable it and fail everything pending for it.
pub async fn disable_workspace(
    db: &DatabaseConnection,
    team: &str,
    reason: &str,
) -> Result<Vec<i64>, DbErr> {
    let txn = db.begin().await?;
    workspace::Entity::update_many()
        .col_expr(workspace::Column::Status, Expr::value(status::DISABLED))
        .col_expr(workspace::Column::DisabledReason, Expr::value(reason))
        .col_expr(workspace::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(workspace::Column::TeamId.eq(team))
        .exec(&txn)
        .await?;
    let failed = fail_pending(
        &txn,
        Condition::all().add(delivery::Column::TeamId.eq(team)),
        reason,
    )
    .await?;
    txn.commit().await?;
    Ok(failed)
}

/// Fails every pending delivery matching `which`, with `reason`; returns their ids.
pub async fn fail_pending(
    db: &impl ConnectionTrait,
    which: Condition,
    reason: &str,
) -> Result<Vec<i64>, DbErr> {
    let ids: Vec<i64> = delivery::Entity::find()
        .filter(delivery::Column::Status.eq(status::PENDING))
        .filter(which)
        .all(db)
        .await?
        .into_iter()
        .map(|d| d.id)
        .collect();
    if !ids.is_empty() {
        delivery::Entity::update_many()
            .col_expr(delivery::Column::Status, Expr::value(status::FAILED))
            .col_expr(delivery::Column::LastError, Expr::value(reason))
            .col_expr(delivery::Column::InFlight, Expr::value(false))
            .col_expr(delivery::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(delivery::Column::Id.is_in(ids.clone()))
            .exec(db)
            .await?;
    }
    Ok(ids)
}

/// A delivery's current row (tests and the CLI read it).
pub async fn get(db: &impl ConnectionTrait, id: i64) -> Result<Option<delivery::Model>, DbErr> {
    delivery::Entity::find_by_id(id).one(db).await
}

pub async fn all(db: &impl ConnectionTrait) -> Result<Vec<delivery::Model>, DbErr> {
    delivery::Entity::find()
        .order_by_asc(delivery::Column::Id)
        .all(db)
        .await
}

/// When a request to the channel was last made or answered (by any run or instance): the latest
/// update of a delivery that was attempted.
pub async fn last_attempt_at(
    db: &impl ConnectionTrait,
    team: &str,
    channel: &str,
) -> Result<Option<chrono::DateTime<Utc>>, DbErr> {
    let last = delivery::Entity::find()
        .filter(delivery::Column::TeamId.eq(team))
        .filter(delivery::Column::ChannelId.eq(channel))
        .filter(delivery::Column::Attempts.gt(0))
        .order_by_desc(delivery::Column::UpdatedAt)
        .one(db)
        .await?;
    Ok(last.map(|d| d.updated_at))
}

/// Pending deliveries counted per (team, channel), most first.
pub async fn pending_by_channel(
    db: &impl ConnectionTrait,
) -> Result<Vec<(String, String, u64)>, DbErr> {
    use sea_orm::QuerySelect;
    let mut rows: Vec<(String, String, i64)> = delivery::Entity::find()
        .select_only()
        .column(delivery::Column::TeamId)
        .column(delivery::Column::ChannelId)
        .column_as(Expr::col(delivery::Column::Id).count(), "n")
        .filter(delivery::Column::Status.eq(status::PENDING))
        .group_by(delivery::Column::TeamId)
        .group_by(delivery::Column::ChannelId)
        .into_tuple()
        .all(db)
        .await?;
    rows.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| (&a.0, &a.1).cmp(&(&b.0, &b.1))));
    Ok(rows
        .into_iter()
        .map(|(t, c, n)| (t, c, u64::try_from(n).unwrap_or(0)))
        .collect())
}

/// Why a request's fate is unknown after a crash.
const INTERRUPTED: &str = "the service stopped while a request to Slack was in flight";

/// What the start-up check of interrupted deliveries did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Interrupted {
    /// Rows whose request was out when the process stopped (each counted as ambiguous once).
    pub noted: u64,
    /// Rows that reached the bound of attempts that may have posted: failed, not sent again.
    pub given_up: Vec<i64>,
    /// The (team, channel) of each interrupted request: the stopped process may have posted there
    /// at any moment up to its end.
    pub channels: Vec<(String, String)>,
}

/// Pending deliveries whose request was out when the process stopped may have been posted: count
/// that once, at start-up, before they are sent again. A pending row that has now had
/// `max_ambiguous` such attempts is failed with the reason instead of being sent once more, so the
/// bound holds across restarts.
pub async fn note_interrupted(
    db: &impl ConnectionTrait,
    max_ambiguous: u32,
) -> Result<Interrupted, DbErr> {
    let mut channels: Vec<(String, String)> = delivery::Entity::find()
        .filter(delivery::Column::Status.eq(status::PENDING))
        .filter(delivery::Column::InFlight.eq(true))
        .all(db)
        .await?
        .into_iter()
        .map(|d| (d.team_id, d.channel_id))
        .collect();
    channels.sort();
    channels.dedup();
    let res = delivery::Entity::update_many()
        .col_expr(
            delivery::Column::AmbiguousAttempts,
            Expr::col(delivery::Column::AmbiguousAttempts).add(1),
        )
        .col_expr(delivery::Column::LastError, Expr::value(INTERRUPTED))
        .col_expr(delivery::Column::InFlight, Expr::value(false))
        .filter(delivery::Column::Status.eq(status::PENDING))
        .filter(delivery::Column::InFlight.eq(true))
        .exec(db)
        .await?;
    let bound = i32::try_from(max_ambiguous).unwrap_or(i32::MAX);
    let over = delivery::Entity::find()
        .filter(delivery::Column::Status.eq(status::PENDING))
        .filter(delivery::Column::AmbiguousAttempts.gte(bound))
        .order_by_asc(delivery::Column::Id)
        .all(db)
        .await?;
    let mut given_up = Vec::with_capacity(over.len());
    for d in over {
        let last = d.last_error.as_deref().unwrap_or(INTERRUPTED);
        let reason = format!(
            "gave up after {} attempts that may have posted; last: {last}",
            d.ambiguous_attempts
        );
        mark_failed(db, d.id, &reason).await?;
        given_up.push(d.id);
    }
    Ok(Interrupted {
        noted: res.rows_affected,
        given_up,
        channels,
    })
}

/// The oldest pending delivery of a channel, whoever created it: messages leave in creation order
/// even when several instances create them.
pub async fn oldest_pending(
    db: &impl ConnectionTrait,
    team: &str,
    channel: &str,
) -> Result<Option<NewDelivery>, DbErr> {
    let Some(d) = delivery::Entity::find()
        .filter(delivery::Column::TeamId.eq(team))
        .filter(delivery::Column::ChannelId.eq(channel))
        .filter(delivery::Column::Status.eq(status::PENDING))
        .order_by_asc(delivery::Column::Id)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let note = notification::Entity::find_by_id(d.notification_id)
        .one(db)
        .await?;
    Ok(note.map(|n| NewDelivery {
        id: d.id,
        project_key: n.project_key,
        team_id: d.team_id,
        channel_id: d.channel_id,
        message: n.message,
        created_at: d.created_at,
    }))
}
