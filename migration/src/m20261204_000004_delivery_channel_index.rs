//! An index on deliveries by channel and update time: a channel actor's start reads its channel's
//! last attempt, which without it scans every delivery ever made.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const NAME: &str = "ix_deliveries_channel_updated";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(
            Index::create()
                .name(NAME)
                .table(Deliveries::Table)
                .col(Deliveries::TeamId)
                .col(Deliveries::ChannelId)
                .col(Deliveries::UpdatedAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(Index::drop().name(NAME).table(Deliveries::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Deliveries {
    Table,
    TeamId,
    ChannelId,
    UpdatedAt,
}
