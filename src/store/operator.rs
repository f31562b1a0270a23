//! What operators look at and fix by hand: deliveries listed with their project, disabled
//! subscriptions re-enabled, and failed deliveries put back to pending.

use chrono::Utc;
use entity::{delivery, notification, subscription, workspace};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use super::status;

/// A delivery with the project its notification is about.
#[derive(Debug, Clone)]
pub struct Listed {
    pub delivery: delivery::Model,
    pub project_key: String,
}

/// The newest `limit` deliveries (in `state`, if given), newest first, and how many match in all.
pub async fn list(
    db: &impl ConnectionTrait,
    state: Option<&str>,
    limit: u64,
) -> Result<(Vec<Listed>, u64), DbErr> {
    let mut query = delivery::Entity::find();
    if let Some(state) = state {
        query = query.filter(delivery::Column::Status.eq(state));
    }
    let total = query.clone().count(db).await?;
    let rows = query
        .order_by_desc(delivery::Column::CreatedAt)
        .order_by_desc(delivery::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    let notes = notification::Entity::find()
        .filter(notification::Column::Id.is_in(rows.iter().map(|d| d.notification_id)))
        .all(db)
        .await?;
    let listed = rows
        .into_iter()
        .map(|d| Listed {
            project_key: notes
                .iter()
                .find(|n| n.id == d.notification_id)
                .map_or_else(|| "?".to_owned(), |n| n.project_key.clone()),
            delivery: d,
        })
        .collect();
    Ok((listed, total))
}

/// One delivery with what decides whether it can be retried.
#[derive(Debug, Clone)]
pub struct Found {
    pub listed: Listed,
    pub subscription: Option<subscription::Model>,
    pub workspace: Option<workspace::Model>,
}

pub async fn find(db: &impl ConnectionTrait, id: i64) -> Result<Option<Found>, DbErr> {
    let Some(d) = delivery::Entity::find_by_id(id).one(db).await? else {
        return Ok(None);
    };
    let project_key = notification::Entity::find_by_id(d.notification_id)
        .one(db)
        .await?
        .map_or_else(|| "?".to_owned(), |n| n.project_key);
    let subscription = subscription::Entity::find_by_id(d.subscription_id)
        .one(db)
        .await?;
    let workspace = workspace::Entity::find_by_id(d.team_id.clone())
        .one(db)
        .await?;
    Ok(Some(Found {
        listed: Listed {
            delivery: d,
            project_key,
        },
        subscription,
        workspace,
    }))
}

/// Every failed delivery's id, oldest first.
pub async fn failed_ids(db: &impl ConnectionTrait) -> Result<Vec<i64>, DbErr> {
    Ok(delivery::Entity::find()
        .filter(delivery::Column::Status.eq(status::FAILED))
        .order_by_asc(delivery::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|d| d.id)
        .collect())
}

/// Puts a failed delivery back to pending, only if it is still failed with the ambiguous count the
/// operator's check saw (a concurrent change wins). `reset_ambiguous` zeroes that count.
pub async fn requeue(
    db: &impl ConnectionTrait,
    id: i64,
    seen_ambiguous: i32,
    reset_ambiguous: bool,
) -> Result<bool, DbErr> {
    let mut update = delivery::Entity::update_many()
        .col_expr(delivery::Column::Status, Expr::value(status::PENDING))
        .col_expr(delivery::Column::InFlight, Expr::value(false))
        .col_expr(delivery::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(delivery::Column::Id.eq(id))
        .filter(delivery::Column::Status.eq(status::FAILED))
        .filter(delivery::Column::AmbiguousAttempts.eq(seen_ambiguous));
    if reset_ambiguous {
        update = update.col_expr(delivery::Column::AmbiguousAttempts, Expr::value(0));
    }
    Ok(update.exec(db).await?.rows_affected == 1)
}

/// Re-enables a channel's disabled subscriptions (only the one of `only` = (connection, project)
/// when given); returns those re-enabled.
pub async fn enable_subscriptions(
    db: &impl ConnectionTrait,
    team: &str,
    channel: &str,
    only: Option<(i64, &str)>,
) -> Result<Vec<subscription::Model>, DbErr> {
    let mut query = subscription::Entity::find()
        .filter(subscription::Column::TeamId.eq(team))
        .filter(subscription::Column::ChannelId.eq(channel))
        .filter(subscription::Column::Status.eq(status::DISABLED));
    if let Some((connection_id, project)) = only {
        query = query
            .filter(subscription::Column::ConnectionId.eq(connection_id))
            .filter(subscription::Column::ProjectKey.eq(project));
    }
    let mut enabled = Vec::new();
    for s in query.order_by_asc(subscription::Column::Id).all(db).await? {
        let res = subscription::Entity::update_many()
            .col_expr(subscription::Column::Status, Expr::value(status::ACTIVE))
            .col_expr(
                subscription::Column::DisabledReason,
                Expr::value(Option::<String>::None),
            )
            .filter(subscription::Column::Id.eq(s.id))
            .filter(subscription::Column::Status.eq(status::DISABLED))
            .exec(db)
            .await?;
        if res.rows_affected == 1 {
            enabled.push(s);
        }
    }
    Ok(enabled)
}

/// How many failed deliveries these subscriptions have (they can be retried once re-enabled).
pub async fn failed_for(db: &impl ConnectionTrait, subscription_ids: &[i64]) -> Result<u64, DbErr> {
    delivery::Entity::find()
        .filter(delivery::Column::Status.eq(status::FAILED))
        .filter(delivery::Column::SubscriptionId.is_in(subscription_ids.iter().copied()))
        .count(db)
        .await
}
