//! Database migrations for sonar-slack. One file per migration; the same code serves SQLite and PostgreSQL.

pub use sea_orm_migration::prelude::*;

mod m20261203_000001_initial;
mod m20261203_000002_channel_leases;
mod m20261203_000003_slack_app;
mod m20261204_000004_delivery_channel_index;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261203_000001_initial::Migration),
            Box::new(m20261203_000002_channel_leases::Migration),
            Box::new(m20261203_000003_slack_app::Migration),
            Box::new(m20261204_000004_delivery_channel_index::Migration),
        ]
    }
}
