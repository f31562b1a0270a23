//! The Events API inbox: each `event_id` is handled once; Slack's retries are only acknowledged.

use chrono::{Duration, Utc};
use entity::slack_event;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set};

/// Records an event; false if it was seen before.
pub async fn first_sighting(
    db: &impl ConnectionTrait,
    event_id: &str,
    team: Option<&str>,
    event_type: &str,
) -> Result<bool, DbErr> {
    let now = Utc::now();
    // Slack retries within minutes; a week of ids is plenty.
    slack_event::Entity::delete_many()
        .filter(slack_event::Column::ReceivedAt.lt(now - Duration::days(7)))
        .exec(db)
        .await?;
    let row = slack_event::ActiveModel {
        event_id: Set(event_id.to_owned()),
        team_id: Set(team.map(str::to_owned)),
        event_type: Set(event_type.to_owned()),
        received_at: Set(now),
    };
    let inserted = slack_event::Entity::insert(row)
        .on_conflict(
            OnConflict::column(slack_event::Column::EventId)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(inserted == 1)
}

/// Forgets an event whose handling failed, so Slack's retry is handled again.
pub async fn forget(db: &impl ConnectionTrait, event_id: &str) -> Result<(), DbErr> {
    slack_event::Entity::delete_by_id(event_id.to_owned())
        .exec(db)
        .await
        .map(|_| ())
}
