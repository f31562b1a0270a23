//! Events API ids already handled, so Slack's retries are only acknowledged.

use chrono::{Duration, Utc};
use entity::slack_event;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set};

/// Whether this event was handled before.
pub async fn seen(db: &impl ConnectionTrait, event_id: &str) -> Result<bool, DbErr> {
    Ok(slack_event::Entity::find_by_id(event_id.to_owned())
        .one(db)
        .await?
        .is_some())
}

/// Records a handled event (a second record of the same id is a no-op).
pub async fn record(
    db: &impl ConnectionTrait,
    event_id: &str,
    team: Option<&str>,
    event_type: &str,
) -> Result<(), DbErr> {
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
    slack_event::Entity::insert(row)
        .on_conflict(
            OnConflict::column(slack_event::Column::EventId)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}
