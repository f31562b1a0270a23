//! Persistence: SeaORM queries as free functions over a connection. Nothing here decides anything.

mod batch;
pub mod catalog;
pub mod deliveries;
pub mod ingest;
pub mod installs;
pub mod leases;
pub mod links;
pub mod onetime;
pub mod operator;
pub mod queue;
pub mod sealed;
pub mod slack_events;
pub mod writer;

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};

pub use sea_orm::DatabaseConnection as Db;

/// Row states, as stored.
pub mod status {
    pub const ACTIVE: &str = "active";
    pub const DISABLED: &str = "disabled";
    pub const PENDING: &str = "pending";
    pub const SENT: &str = "sent";
    pub const FAILED: &str = "failed";
}

/// SQLite connections: WAL lets readers run beside the one writer. Every write transaction here
/// starts by writing, so writers queue on the busy timeout instead of failing on a lock upgrade.
const SQLITE_CONNECTIONS: u32 = 4;

/// Opens the database. SQLite gets WAL, foreign keys, a busy timeout and a small pool; PostgreSQL
/// gets the configured pool.
pub async fn connect(url: &str, max_connections: u32) -> Result<DatabaseConnection, DbErr> {
    let is_sqlite = url.starts_with("sqlite:");
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.sqlx_logging(false)
        .acquire_timeout(Duration::from_secs(30))
        .max_connections(if is_sqlite {
            SQLITE_CONNECTIONS
        } else {
            max_connections
        })
        .min_connections(0);
    if is_sqlite {
        // Per-connection settings, applied to every connection the pool opens.
        opts.map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .create_if_missing(true)
                .busy_timeout(Duration::from_secs(10))
        });
    }
    Database::connect(opts).await
}

/// Applies every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// A cheap round trip, for health checks.
pub async fn ping(db: &DatabaseConnection) -> Result<(), DbErr> {
    db.ping().await
}

/// Whether an error is a unique-constraint violation (a concurrent writer got there first).
pub fn is_unique_violation(err: &DbErr) -> bool {
    matches!(
        err.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}
