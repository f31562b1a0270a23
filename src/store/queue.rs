//! The delivery queue as operators see it: rows per state (one GROUP BY at each scrape) and a cheap
//! read of the table for readiness checks.

use entity::delivery;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, QuerySelect};

use super::status;

/// Deliveries per state; `pending` rows with a request out to Slack are counted as `in_flight`.
pub async fn depth(db: &impl ConnectionTrait) -> Result<Vec<(&'static str, u64)>, DbErr> {
    let rows: Vec<(String, bool, i64)> = delivery::Entity::find()
        .select_only()
        .column(delivery::Column::Status)
        .column(delivery::Column::InFlight)
        .column_as(Expr::col(delivery::Column::Id).count(), "n")
        .group_by(delivery::Column::Status)
        .group_by(delivery::Column::InFlight)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(state, in_flight, n)| {
            let state = match state.as_str() {
                status::PENDING if in_flight => "in_flight",
                status::PENDING => "pending",
                status::SENT => "sent",
                status::FAILED => "failed",
                _ => return None,
            };
            Some((state, u64::try_from(n).unwrap_or(0)))
        })
        .collect())
}

/// Reads one row id from the deliveries table: the database answers and the schema is in place.
pub async fn probe(db: &impl ConnectionTrait) -> Result<(), DbErr> {
    delivery::Entity::find()
        .select_only()
        .column(delivery::Column::Id)
        .limit(1)
        .into_tuple::<i64>()
        .one(db)
        .await
        .map(|_| ())
}
