//! Persistence: SeaORM queries as free functions over a connection. Nothing here decides anything.

pub mod catalog;
pub mod deliveries;
pub mod ingest;

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr};

pub use sea_orm::DatabaseConnection as Db;

/// Row states, as stored.
pub mod status {
    pub const ACTIVE: &str = "active";
    pub const DISABLED: &str = "disabled";
    pub const PENDING: &str = "pending";
    pub const SENT: &str = "sent";
    pub const FAILED: &str = "failed";
}

/// Opens the database. SQLite gets WAL, foreign keys and a busy timeout, and a single connection so
/// that this process never races itself for the write lock; PostgreSQL gets a pool.
pub async fn connect(url: &str, max_connections: u32) -> Result<DatabaseConnection, DbErr> {
    let is_sqlite = url.starts_with("sqlite:");
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.sqlx_logging(false)
        .acquire_timeout(Duration::from_secs(30))
        .max_connections(if is_sqlite { 1 } else { max_connections })
        .min_connections(if is_sqlite { 1 } else { 0 });
    if is_sqlite {
        // A single long-lived connection: never let the pool recycle it (an in-memory database would vanish).
        opts.idle_timeout(None::<Duration>)
            .max_lifetime(None::<Duration>);
    }
    let db = Database::connect(opts).await?;
    if db.get_database_backend() == DbBackend::Sqlite {
        for pragma in [
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=FULL",
            "PRAGMA foreign_keys=ON",
            "PRAGMA busy_timeout=10000",
        ] {
            db.execute_unprepared(pragma).await?;
        }
    }
    Ok(db)
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
