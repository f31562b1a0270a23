//! Linked SonarQube accounts: one sealed user token per (team, Slack user, connection).

use chrono::Utc;
use entity::user_link;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, Set};

/// The associated data binding a sealed SonarQube token to its link.
pub fn user_token_context(team: &str, user: &str, connection_id: i64) -> String {
    format!("link:{team}:{user}:{connection_id}:sonar_token")
}

/// Links (or relinks) a Slack user to a SonarQube account on one connection.
pub async fn link(
    db: &impl ConnectionTrait,
    team: &str,
    user: &str,
    connection_id: i64,
    login: &str,
    name: Option<&str>,
    token_sealed: String,
) -> Result<(), DbErr> {
    use user_link::Column as C;
    let now = Utc::now();
    let row = user_link::ActiveModel {
        team_id: Set(team.to_owned()),
        slack_user_id: Set(user.to_owned()),
        connection_id: Set(connection_id),
        sonar_login: Set(login.to_owned()),
        sonar_name: Set(name.map(str::to_owned)),
        token_sealed: Set(token_sealed),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    user_link::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([C::TeamId, C::SlackUserId, C::ConnectionId])
                .update_columns([C::SonarLogin, C::SonarName, C::TokenSealed, C::UpdatedAt])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// A user's links, one per connection.
pub async fn links_of(
    db: &impl ConnectionTrait,
    team: &str,
    user: &str,
) -> Result<Vec<user_link::Model>, DbErr> {
    user_link::Entity::find()
        .filter(user_link::Column::TeamId.eq(team))
        .filter(user_link::Column::SlackUserId.eq(user))
        .order_by_asc(user_link::Column::ConnectionId)
        .all(db)
        .await
}

/// Removes a user's links (all, or the one on `connection_id`) with their sealed tokens.
pub async fn unlink(
    db: &impl ConnectionTrait,
    team: &str,
    user: &str,
    connection_id: Option<i64>,
) -> Result<u64, DbErr> {
    let mut q = user_link::Entity::delete_many()
        .filter(user_link::Column::TeamId.eq(team))
        .filter(user_link::Column::SlackUserId.eq(user));
    if let Some(id) = connection_id {
        q = q.filter(user_link::Column::ConnectionId.eq(id));
    }
    Ok(q.exec(db).await?.rows_affected)
}

/// Drops the links of these users in any workspace (`tokens_revoked` lists user ids).
pub async fn unlink_users(
    db: &impl ConnectionTrait,
    team: Option<&str>,
    users: &[String],
) -> Result<u64, DbErr> {
    if users.is_empty() {
        return Ok(0);
    }
    let mut q = user_link::Entity::delete_many()
        .filter(user_link::Column::SlackUserId.is_in(users.iter().map(String::as_str)));
    if let Some(team) = team {
        q = q.filter(user_link::Column::TeamId.eq(team));
    }
    Ok(q.exec(db).await?.rows_affected)
}
