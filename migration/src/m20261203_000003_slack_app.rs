//! The Slack app: installation details and rotating tokens on workspaces, linked SonarQube accounts,
//! used OAuth install states and one-time linking tokens, and the Events API claims that drop
//! Slack's retries.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // SQLite takes one column per ALTER TABLE.
        let columns = [
            string_null(Workspaces::EnterpriseId),
            string_null(Workspaces::BotUserId),
            string_null(Workspaces::AppId),
            text_null(Workspaces::Scopes),
            string_null(Workspaces::InstalledBy),
            text_null(Workspaces::RefreshTokenSealed),
            timestamp_with_time_zone_null(Workspaces::TokenExpiresAt),
        ];
        for column in columns {
            m.alter_table(
                Table::alter()
                    .table(Workspaces::Table)
                    .add_column(column)
                    .to_owned(),
            )
            .await?;
        }

        m.create_table(
            Table::create()
                .table(UserLinks::Table)
                .col(big_pk_auto(UserLinks::Id))
                .col(string(UserLinks::TeamId))
                .col(string(UserLinks::SlackUserId))
                .col(big_integer(UserLinks::ConnectionId))
                .col(string(UserLinks::SonarLogin))
                .col(string_null(UserLinks::SonarName))
                .col(text(UserLinks::TokenSealed))
                .col(timestamp_with_time_zone(UserLinks::CreatedAt))
                .col(timestamp_with_time_zone(UserLinks::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(UserLinks::Table, UserLinks::ConnectionId)
                        .to(Connections::Table, Connections::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_user_links_user")
                .table(UserLinks::Table)
                .col(UserLinks::TeamId)
                .col(UserLinks::SlackUserId)
                .col(UserLinks::ConnectionId)
                .unique()
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(OauthStates::Table)
                .col(string(OauthStates::StateHash).primary_key())
                .col(timestamp_with_time_zone(OauthStates::ExpiresAt))
                .col(timestamp_with_time_zone(OauthStates::CreatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(LinkTokens::Table)
                .col(string(LinkTokens::TokenHash).primary_key())
                .col(string(LinkTokens::TeamId))
                .col(string(LinkTokens::SlackUserId))
                .col(timestamp_with_time_zone(LinkTokens::ExpiresAt))
                .col(timestamp_with_time_zone_null(LinkTokens::UsedAt))
                .col(timestamp_with_time_zone(LinkTokens::CreatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(SlackEvents::Table)
                .col(string(SlackEvents::EventId).primary_key())
                .col(string_null(SlackEvents::TeamId))
                .col(string(SlackEvents::EventType))
                .col(timestamp_with_time_zone(SlackEvents::ReceivedAt))
                .col(timestamp_with_time_zone_null(SlackEvents::HandledAt))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            SlackEvents::Table.into_iden(),
            LinkTokens::Table.into_iden(),
            OauthStates::Table.into_iden(),
            UserLinks::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        for column in [
            Workspaces::EnterpriseId,
            Workspaces::BotUserId,
            Workspaces::AppId,
            Workspaces::Scopes,
            Workspaces::InstalledBy,
            Workspaces::RefreshTokenSealed,
            Workspaces::TokenExpiresAt,
        ] {
            m.alter_table(
                Table::alter()
                    .table(Workspaces::Table)
                    .drop_column(column)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Workspaces {
    Table,
    EnterpriseId,
    BotUserId,
    AppId,
    Scopes,
    InstalledBy,
    RefreshTokenSealed,
    TokenExpiresAt,
}

#[derive(DeriveIden)]
enum Connections {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum UserLinks {
    Table,
    Id,
    TeamId,
    SlackUserId,
    ConnectionId,
    SonarLogin,
    SonarName,
    TokenSealed,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum OauthStates {
    Table,
    StateHash,
    ExpiresAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum LinkTokens {
    Table,
    TokenHash,
    TeamId,
    SlackUserId,
    ExpiresAt,
    UsedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum SlackEvents {
    Table,
    EventId,
    TeamId,
    EventType,
    ReceivedAt,
    HandledAt,
}
