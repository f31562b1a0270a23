//! Channel leases: which instance may post to a channel, until when.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ChannelLeases::Table)
                .col(string(ChannelLeases::TeamId))
                .col(string(ChannelLeases::ChannelId))
                .col(string(ChannelLeases::Owner))
                .col(timestamp_with_time_zone(ChannelLeases::ExpiresAt))
                .primary_key(
                    Index::create()
                        .col(ChannelLeases::TeamId)
                        .col(ChannelLeases::ChannelId),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(ChannelLeases::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ChannelLeases {
    Table,
    TeamId,
    ChannelId,
    Owner,
    ExpiresAt,
}
