//! The initial schema: connections, workspaces, subscriptions, project state, the webhook inbox,
//! notifications and their per-channel deliveries.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Connections::Table)
                .col(big_pk_auto(Connections::Id))
                .col(string_uniq(Connections::ServerUrl))
                .col(string_null(Connections::Organization))
                .col(text_null(Connections::SecretSealed))
                .col(timestamp_with_time_zone(Connections::CreatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Workspaces::Table)
                .col(string(Workspaces::TeamId).primary_key())
                .col(string_null(Workspaces::TeamName))
                .col(text(Workspaces::BotTokenSealed))
                .col(string(Workspaces::Status))
                .col(text_null(Workspaces::DisabledReason))
                .col(timestamp_with_time_zone(Workspaces::CreatedAt))
                .col(timestamp_with_time_zone(Workspaces::UpdatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Subscriptions::Table)
                .col(big_pk_auto(Subscriptions::Id))
                .col(string(Subscriptions::TeamId))
                .col(string(Subscriptions::ChannelId))
                .col(big_integer(Subscriptions::ConnectionId))
                .col(string(Subscriptions::ProjectKey))
                .col(string(Subscriptions::Status))
                .col(text_null(Subscriptions::DisabledReason))
                .col(string_null(Subscriptions::CreatedBy))
                .col(timestamp_with_time_zone(Subscriptions::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Subscriptions::Table, Subscriptions::ConnectionId)
                        .to(Connections::Table, Connections::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_subscriptions_route")
                .table(Subscriptions::Table)
                .col(Subscriptions::TeamId)
                .col(Subscriptions::ChannelId)
                .col(Subscriptions::ConnectionId)
                .col(Subscriptions::ProjectKey)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_subscriptions_project")
                .table(Subscriptions::Table)
                .col(Subscriptions::ConnectionId)
                .col(Subscriptions::ProjectKey)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ProjectStates::Table)
                .col(big_pk_auto(ProjectStates::Id))
                .col(big_integer(ProjectStates::ConnectionId))
                .col(string(ProjectStates::ProjectKey))
                .col(string(ProjectStates::Gate))
                .col(timestamp_with_time_zone_null(ProjectStates::AnalysedAt))
                .col(timestamp_with_time_zone_null(ProjectStates::ChangedAt))
                .col(timestamp_with_time_zone_null(ProjectStates::FailingSince))
                .col(big_integer(ProjectStates::Version))
                .col(timestamp_with_time_zone(ProjectStates::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(ProjectStates::Table, ProjectStates::ConnectionId)
                        .to(Connections::Table, Connections::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_project_states_project")
                .table(ProjectStates::Table)
                .col(ProjectStates::ConnectionId)
                .col(ProjectStates::ProjectKey)
                .unique()
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(WebhookEvents::Table)
                .col(big_pk_auto(WebhookEvents::Id))
                .col(big_integer(WebhookEvents::ConnectionId))
                .col(string(WebhookEvents::ProjectKey))
                .col(string(WebhookEvents::DedupeKey))
                .col(string(WebhookEvents::Decision))
                .col(text(WebhookEvents::Body))
                .col(timestamp_with_time_zone(WebhookEvents::ReceivedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(WebhookEvents::Table, WebhookEvents::ConnectionId)
                        .to(Connections::Table, Connections::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_webhook_events_dedupe")
                .table(WebhookEvents::Table)
                .col(WebhookEvents::ConnectionId)
                .col(WebhookEvents::ProjectKey)
                .col(WebhookEvents::DedupeKey)
                .unique()
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Notifications::Table)
                .col(big_pk_auto(Notifications::Id))
                .col(big_integer(Notifications::ConnectionId))
                .col(string(Notifications::ProjectKey))
                .col(string(Notifications::Transition))
                .col(text(Notifications::Message))
                .col(timestamp_with_time_zone(Notifications::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Notifications::Table, Notifications::ConnectionId)
                        .to(Connections::Table, Connections::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Deliveries::Table)
                .col(big_pk_auto(Deliveries::Id))
                .col(big_integer(Deliveries::NotificationId))
                .col(big_integer(Deliveries::SubscriptionId))
                .col(string(Deliveries::TeamId))
                .col(string(Deliveries::ChannelId))
                .col(string(Deliveries::Status))
                .col(integer(Deliveries::Attempts).default(0))
                .col(integer(Deliveries::AmbiguousAttempts).default(0))
                .col(boolean(Deliveries::InFlight).default(false))
                .col(string_null(Deliveries::SlackTs))
                .col(text_null(Deliveries::LastError))
                .col(timestamp_with_time_zone(Deliveries::CreatedAt))
                .col(timestamp_with_time_zone(Deliveries::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Deliveries::Table, Deliveries::NotificationId)
                        .to(Notifications::Table, Notifications::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_deliveries_status_channel")
                .table(Deliveries::Table)
                .col(Deliveries::Status)
                .col(Deliveries::TeamId)
                .col(Deliveries::ChannelId)
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Deliveries::Table.into_iden(),
            Notifications::Table.into_iden(),
            WebhookEvents::Table.into_iden(),
            ProjectStates::Table.into_iden(),
            Subscriptions::Table.into_iden(),
            Workspaces::Table.into_iden(),
            Connections::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Connections {
    Table,
    Id,
    ServerUrl,
    Organization,
    SecretSealed,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Workspaces {
    Table,
    TeamId,
    TeamName,
    BotTokenSealed,
    Status,
    DisabledReason,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Subscriptions {
    Table,
    Id,
    TeamId,
    ChannelId,
    ConnectionId,
    ProjectKey,
    Status,
    DisabledReason,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ProjectStates {
    Table,
    Id,
    ConnectionId,
    ProjectKey,
    Gate,
    AnalysedAt,
    ChangedAt,
    FailingSince,
    Version,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum WebhookEvents {
    Table,
    Id,
    ConnectionId,
    ProjectKey,
    DedupeKey,
    Decision,
    Body,
    ReceivedAt,
}

#[derive(DeriveIden)]
enum Notifications {
    Table,
    Id,
    ConnectionId,
    ProjectKey,
    Transition,
    Message,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Deliveries {
    Table,
    Id,
    NotificationId,
    SubscriptionId,
    TeamId,
    ChannelId,
    Status,
    Attempts,
    AmbiguousAttempts,
    InFlight,
    SlackTs,
    LastError,
    CreatedAt,
    UpdatedAt,
}
