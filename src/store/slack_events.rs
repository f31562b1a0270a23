//! Events API ids: each event is claimed by one handler at a time and marked once handled, so
//! Slack's retries (even ones arriving while the first delivery is still being handled) are only
//! acknowledged. A claim left by a crash is taken over by the next retry.

use chrono::{Duration, Utc};
use entity::slack_event;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set};

/// A claim older than this, never marked handled, belonged to a handler that died.
const STALE_CLAIM_SECS: i64 = 30;

/// What claiming an event found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Ours to handle.
    Mine,
    /// Handled already, or being handled right now.
    Taken,
}

/// Claims `event_id` for handling.
pub async fn claim(
    db: &impl ConnectionTrait,
    event_id: &str,
    team: Option<&str>,
    event_type: &str,
) -> Result<Claim, DbErr> {
    use slack_event::Column as C;
    let now = Utc::now();
    // Slack retries within minutes; a week of ids is plenty.
    slack_event::Entity::delete_many()
        .filter(C::ReceivedAt.lt(now - Duration::days(7)))
        .exec(db)
        .await?;
    let row = slack_event::ActiveModel {
        event_id: Set(event_id.to_owned()),
        team_id: Set(team.map(str::to_owned)),
        event_type: Set(event_type.to_owned()),
        received_at: Set(now),
        handled_at: Set(None),
    };
    let inserted = slack_event::Entity::insert(row)
        .on_conflict(OnConflict::column(C::EventId).do_nothing().to_owned())
        .exec_without_returning(db)
        .await?;
    if inserted == 1 {
        return Ok(Claim::Mine);
    }
    // Someone claimed it: take it over only if that claim is stale and still unhandled.
    let taken_over = slack_event::Entity::update_many()
        .col_expr(C::ReceivedAt, Expr::value(now))
        .filter(C::EventId.eq(event_id))
        .filter(C::HandledAt.is_null())
        .filter(C::ReceivedAt.lt(now - Duration::seconds(STALE_CLAIM_SECS)))
        .exec(db)
        .await?;
    Ok(if taken_over.rows_affected == 1 {
        Claim::Mine
    } else {
        Claim::Taken
    })
}

/// Marks a claimed event handled.
pub async fn handled(db: &impl ConnectionTrait, event_id: &str) -> Result<(), DbErr> {
    slack_event::Entity::update_many()
        .col_expr(slack_event::Column::HandledAt, Expr::value(Utc::now()))
        .filter(slack_event::Column::EventId.eq(event_id))
        .exec(db)
        .await
        .map(|_| ())
}

/// Gives a claim up after a failed handling, so that Slack's retry handles the event.
pub async fn release(db: &impl ConnectionTrait, event_id: &str) -> Result<(), DbErr> {
    slack_event::Entity::delete_many()
        .filter(slack_event::Column::EventId.eq(event_id))
        .filter(slack_event::Column::HandledAt.is_null())
        .exec(db)
        .await
        .map(|_| ())
}
