//! Connections, workspaces and subscriptions: the operator-managed catalogue.

use chrono::Utc;
use entity::{connection, delivery, subscription, workspace};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
    QueryOrder, Set,
};

use super::{deliveries, status};
use crate::domain::types::{ChannelId, ProjectKey, ServerUrl, TeamId};

pub async fn add_connection(
    db: &impl ConnectionTrait,
    server_url: &ServerUrl,
    organization: Option<&str>,
    secret_sealed: Option<String>,
) -> Result<connection::Model, DbErr> {
    connection::ActiveModel {
        server_url: Set(server_url.as_str().to_owned()),
        organization: Set(organization.map(str::to_owned)),
        secret_sealed: Set(secret_sealed),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await
}

pub async fn connections(db: &impl ConnectionTrait) -> Result<Vec<connection::Model>, DbErr> {
    connection::Entity::find()
        .order_by_asc(connection::Column::Id)
        .all(db)
        .await
}

pub async fn connection_by_url(
    db: &impl ConnectionTrait,
    server_url: &ServerUrl,
) -> Result<Option<connection::Model>, DbErr> {
    connection::Entity::find()
        .filter(connection::Column::ServerUrl.eq(server_url.as_str()))
        .one(db)
        .await
}

/// Replaces a connection's sealed secret (`Some(None)` removes it) and/or organization.
pub async fn update_connection(
    db: &impl ConnectionTrait,
    id: i64,
    secret_sealed: Option<Option<String>>,
    organization: Option<&str>,
) -> Result<(), DbErr> {
    let mut row = connection::ActiveModel {
        id: Set(id),
        ..Default::default()
    };
    if let Some(secret) = secret_sealed {
        row.secret_sealed = Set(secret);
    }
    if let Some(org) = organization {
        row.organization = Set(Some(org.to_owned()));
    }
    row.update(db).await.map(|_| ())
}

/// Deletes a connection with its subscriptions, project states and history.
pub async fn remove_connection(db: &impl ConnectionTrait, id: i64) -> Result<bool, DbErr> {
    Ok(connection::Entity::delete_by_id(id)
        .exec(db)
        .await?
        .rows_affected
        > 0)
}

/// Adds a workspace, or replaces its token and re-enables it.
pub async fn upsert_workspace(
    db: &impl ConnectionTrait,
    team: &TeamId,
    team_name: Option<&str>,
    bot_token_sealed: String,
) -> Result<(), DbErr> {
    let now = Utc::now();
    let model = workspace::ActiveModel {
        team_id: Set(team.as_str().to_owned()),
        team_name: Set(team_name.map(str::to_owned)),
        bot_token_sealed: Set(bot_token_sealed),
        status: Set(status::ACTIVE.to_owned()),
        disabled_reason: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        // A token given by hand does not rotate.
        refresh_token_sealed: Set(None),
        token_expires_at: Set(None),
        ..Default::default()
    };
    workspace::Entity::insert(model)
        .on_conflict(
            OnConflict::column(workspace::Column::TeamId)
                .update_columns(
                    [
                        workspace::Column::BotTokenSealed,
                        workspace::Column::Status,
                        workspace::Column::DisabledReason,
                        workspace::Column::UpdatedAt,
                        workspace::Column::RefreshTokenSealed,
                        workspace::Column::TokenExpiresAt,
                    ]
                    .into_iter()
                    // Without a new name, the one the install stored stays.
                    .chain(team_name.map(|_| workspace::Column::TeamName)),
                )
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

pub async fn workspaces(db: &impl ConnectionTrait) -> Result<Vec<workspace::Model>, DbErr> {
    workspace::Entity::find()
        .order_by_asc(workspace::Column::TeamId)
        .all(db)
        .await
}

pub async fn workspace(
    db: &impl ConnectionTrait,
    team: &str,
) -> Result<Option<workspace::Model>, DbErr> {
    workspace::Entity::find_by_id(team.to_owned()).one(db).await
}

/// Deletes a workspace, its subscriptions and its users' links; what was still pending for it fails
/// with that reason.
pub async fn remove_workspace(db: &impl ConnectionTrait, team: &TeamId) -> Result<bool, DbErr> {
    let of_team = Condition::all().add(delivery::Column::TeamId.eq(team.as_str()));
    deliveries::fail_pending(db, of_team, "the workspace was removed").await?;
    subscription::Entity::delete_many()
        .filter(subscription::Column::TeamId.eq(team.as_str()))
        .exec(db)
        .await?;
    // Its users' linked accounts (and their sealed SonarQube tokens) go with it.
    entity::user_link::Entity::delete_many()
        .filter(entity::user_link::Column::TeamId.eq(team.as_str()))
        .exec(db)
        .await?;
    Ok(workspace::Entity::delete_by_id(team.as_str().to_owned())
        .exec(db)
        .await?
        .rows_affected
        > 0)
}

/// Adds a subscription; an existing one for the same route is re-enabled. Returns it.
pub async fn subscribe(
    db: &impl ConnectionTrait,
    team: &TeamId,
    channel: &ChannelId,
    connection_id: i64,
    project: &ProjectKey,
    created_by: Option<&str>,
) -> Result<subscription::Model, DbErr> {
    let route = subscription::Entity::find()
        .filter(subscription::Column::TeamId.eq(team.as_str()))
        .filter(subscription::Column::ChannelId.eq(channel.as_str()))
        .filter(subscription::Column::ConnectionId.eq(connection_id))
        .filter(subscription::Column::ProjectKey.eq(project.as_str()));
    if let Some(existing) = route.clone().one(db).await? {
        let mut active: subscription::ActiveModel = existing.into();
        active.status = Set(status::ACTIVE.to_owned());
        active.disabled_reason = Set(None);
        return active.update(db).await;
    }
    subscription::ActiveModel {
        team_id: Set(team.as_str().to_owned()),
        channel_id: Set(channel.as_str().to_owned()),
        connection_id: Set(connection_id),
        project_key: Set(project.as_str().to_owned()),
        status: Set(status::ACTIVE.to_owned()),
        disabled_reason: Set(None),
        created_by: Set(created_by.map(str::to_owned)),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await
}

pub async fn subscriptions(db: &impl ConnectionTrait) -> Result<Vec<subscription::Model>, DbErr> {
    subscription::Entity::find()
        .order_by_asc(subscription::Column::Id)
        .all(db)
        .await
}

/// Deletes a subscription; what was still pending for it fails with that reason.
pub async fn remove_subscription(db: &impl ConnectionTrait, id: i64) -> Result<bool, DbErr> {
    let of_subscription = Condition::all().add(delivery::Column::SubscriptionId.eq(id));
    deliveries::fail_pending(db, of_subscription, "the subscription was removed").await?;
    Ok(subscription::Entity::delete_by_id(id)
        .exec(db)
        .await?
        .rows_affected
        > 0)
}

/// Active subscriptions of a project. Their workspace's state is the channel's business: a
/// delivery to a disabled workspace fails visibly, one to a workspace not added yet waits for it.
pub async fn active_subscriptions(
    db: &impl ConnectionTrait,
    connection_id: i64,
    project: &str,
) -> Result<Vec<subscription::Model>, DbErr> {
    subscription::Entity::find()
        .filter(subscription::Column::ConnectionId.eq(connection_id))
        .filter(subscription::Column::ProjectKey.eq(project))
        .filter(subscription::Column::Status.eq(status::ACTIVE))
        .order_by_asc(subscription::Column::Id)
        .all(db)
        .await
}

/// The associated data binding a sealed bot token to its workspace row.
pub fn bot_token_context(team: &str) -> String {
    format!("workspace:{team}:bot_token")
}

/// The associated data binding a sealed refresh token to its workspace row.
pub fn refresh_token_context(team: &str) -> String {
    format!("workspace:{team}:refresh_token")
}

/// The associated data binding a sealed webhook secret to its connection row.
pub fn webhook_secret_context(server_url: &str) -> String {
    format!("connection:{server_url}:webhook_secret")
}

/// A channel's subscriptions, active or not, oldest first.
pub async fn channel_subscriptions(
    db: &impl ConnectionTrait,
    team: &str,
    channel: &str,
) -> Result<Vec<subscription::Model>, DbErr> {
    subscription::Entity::find()
        .filter(subscription::Column::TeamId.eq(team))
        .filter(subscription::Column::ChannelId.eq(channel))
        .order_by_asc(subscription::Column::Id)
        .all(db)
        .await
}
