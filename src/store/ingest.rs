//! The one transaction per decided webhook: inbox row, project state, notification and deliveries,
//! committed together or not at all.

use chrono::{DateTime, Utc};
use entity::{delivery, notification, project_state, webhook_event};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr,
    EntityTrait, QueryFilter, Set, TransactionTrait, TryInsertResult,
};

use super::{batch, catalog, is_unique_violation, status};
use crate::domain::decision::{Gate, OrderKey, ProjectMemory};

/// The project's stored memory with the version that guards updates to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMemory {
    pub memory: ProjectMemory,
    pub version: i64,
}

pub async fn load_memory(
    db: &impl ConnectionTrait,
    connection_id: i64,
    project: &str,
) -> Result<Option<StoredMemory>, DbErr> {
    let row = project_state::Entity::find()
        .filter(project_state::Column::ConnectionId.eq(connection_id))
        .filter(project_state::Column::ProjectKey.eq(project))
        .one(db)
        .await?;
    Ok(row.and_then(|r| {
        Some(StoredMemory {
            memory: ProjectMemory {
                gate: Gate::parse(&r.gate)?,
                order: OrderKey {
                    analysed_at: r.analysed_at,
                    changed_at: r.changed_at,
                },
                failing_since: r.failing_since,
            },
            version: r.version,
        })
    }))
}

/// Everything one decided event writes.
#[derive(Debug, Clone)]
pub struct IngestWrite {
    pub connection_id: i64,
    pub project_key: String,
    pub dedupe_key: String,
    pub decision_code: &'static str,
    pub body: String,
    /// The state to store, with the version it must replace (`None`: no row yet).
    pub state: Option<(ProjectMemory, Option<i64>)>,
    /// `(transition, rendered message JSON)` when the event notifies.
    pub notification: Option<(&'static str, String)>,
    pub now: DateTime<Utc>,
}

/// A delivery created by an ingest, ready to hand to its channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    pub id: i64,
    /// The notification's project, for logs.
    pub project_key: String,
    pub team_id: String,
    pub channel_id: String,
    pub message: String,
    /// When the row was created (its latency is measured from here).
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestOutcome {
    Committed {
        version: Option<i64>,
        deliveries: Vec<NewDelivery>,
    },
    /// The same event is already in the inbox.
    Duplicate,
    /// Another writer changed the project's state first: reload and decide again.
    Conflict,
}

/// Commits many writes in one transaction (one fsync): as a few multi-row statements for the
/// whole batch, or, if that fails (or two writes are for one project), one write at a time, each
/// inside its own savepoint so that an error in one leaves the others intact. The outer result
/// fails only when the transaction itself cannot commit; then none of the writes happened.
pub async fn commit_batch(
    db: &DatabaseConnection,
    writes: &[IngestWrite],
) -> Result<Vec<Result<IngestOutcome, DbErr>>, DbErr> {
    if batch::fits(writes) {
        let txn = db.begin().await?;
        match batch::apply(&txn, writes).await {
            Ok(outcomes) => {
                txn.commit().await?;
                return Ok(outcomes.into_iter().map(Ok).collect());
            }
            Err(e) => {
                tracing::warn!(error = %e, writes = writes.len(), "a batch of webhook writes failed; writing them one at a time");
                txn.rollback().await?;
            }
        }
    }
    one_by_one(db, writes).await
}

async fn one_by_one(
    db: &DatabaseConnection,
    writes: &[IngestWrite],
) -> Result<Vec<Result<IngestOutcome, DbErr>>, DbErr> {
    let txn = db.begin().await?;
    let mut results = Vec::with_capacity(writes.len());
    for w in writes {
        let savepoint = txn.begin().await?;
        let result = apply(&savepoint, w).await;
        match &result {
            Ok(IngestOutcome::Committed { .. }) => savepoint.commit().await?,
            _ => savepoint.rollback().await?,
        }
        results.push(result);
    }
    txn.commit().await?;
    Ok(results)
}

async fn apply(txn: &DatabaseTransaction, w: &IngestWrite) -> Result<IngestOutcome, DbErr> {
    let inbox = webhook_event::ActiveModel {
        connection_id: Set(w.connection_id),
        project_key: Set(w.project_key.clone()),
        dedupe_key: Set(w.dedupe_key.clone()),
        decision: Set(w.decision_code.to_owned()),
        body: Set(w.body.clone()),
        received_at: Set(w.now),
        ..Default::default()
    };
    let inserted = webhook_event::Entity::insert(inbox)
        .on_conflict_do_nothing_on([
            webhook_event::Column::ConnectionId,
            webhook_event::Column::ProjectKey,
            webhook_event::Column::DedupeKey,
        ])
        .exec_without_returning(txn)
        .await?;
    if !matches!(inserted, TryInsertResult::Inserted(n) if n > 0) {
        return Ok(IngestOutcome::Duplicate);
    }

    let mut version = None;
    if let Some((memory, expected)) = &w.state {
        match write_state(
            txn,
            w.connection_id,
            &w.project_key,
            memory,
            *expected,
            w.now,
        )
        .await
        {
            Ok(Some(v)) => version = Some(v),
            Ok(None) => return Ok(IngestOutcome::Conflict),
            Err(e) if is_unique_violation(&e) => return Ok(IngestOutcome::Conflict),
            Err(e) => return Err(e),
        }
    }

    let mut deliveries = Vec::new();
    if let Some((transition, message)) = &w.notification {
        let note = notification::ActiveModel {
            connection_id: Set(w.connection_id),
            project_key: Set(w.project_key.clone()),
            transition: Set((*transition).to_owned()),
            message: Set(message.clone()),
            created_at: Set(w.now),
            ..Default::default()
        }
        .insert(txn)
        .await?;
        for route in catalog::active_subscriptions(txn, w.connection_id, &w.project_key).await? {
            let row = delivery::ActiveModel {
                notification_id: Set(note.id),
                subscription_id: Set(route.id),
                team_id: Set(route.team_id.clone()),
                channel_id: Set(route.channel_id.clone()),
                status: Set(status::PENDING.to_owned()),
                attempts: Set(0),
                ambiguous_attempts: Set(0),
                in_flight: Set(false),
                slack_ts: Set(None),
                last_error: Set(None),
                created_at: Set(w.now),
                updated_at: Set(w.now),
                ..Default::default()
            }
            .insert(txn)
            .await?;
            deliveries.push(NewDelivery {
                id: row.id,
                project_key: w.project_key.clone(),
                team_id: route.team_id,
                channel_id: route.channel_id,
                message: message.clone(),
                created_at: row.created_at,
            });
        }
    }
    Ok(IngestOutcome::Committed {
        version,
        deliveries,
    })
}

/// Inserts the first state, or updates it only if it still has the expected version.
/// Returns the new version, or `None` when another writer got there first.
async fn write_state(
    txn: &impl ConnectionTrait,
    connection_id: i64,
    project_key: &str,
    memory: &ProjectMemory,
    expected: Option<i64>,
    now: DateTime<Utc>,
) -> Result<Option<i64>, DbErr> {
    match expected {
        None => {
            project_state::ActiveModel {
                connection_id: Set(connection_id),
                project_key: Set(project_key.to_owned()),
                gate: Set(memory.gate.as_str().to_owned()),
                analysed_at: Set(memory.order.analysed_at),
                changed_at: Set(memory.order.changed_at),
                failing_since: Set(memory.failing_since),
                version: Set(1),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(txn)
            .await?;
            Ok(Some(1))
        }
        Some(v) => {
            let res = project_state::Entity::update_many()
                .col_expr(
                    project_state::Column::Gate,
                    Expr::value(memory.gate.as_str()),
                )
                .col_expr(
                    project_state::Column::AnalysedAt,
                    Expr::value(memory.order.analysed_at),
                )
                .col_expr(
                    project_state::Column::ChangedAt,
                    Expr::value(memory.order.changed_at),
                )
                .col_expr(
                    project_state::Column::FailingSince,
                    Expr::value(memory.failing_since),
                )
                .col_expr(project_state::Column::Version, Expr::value(v + 1))
                .col_expr(project_state::Column::UpdatedAt, Expr::value(now))
                .filter(project_state::Column::ConnectionId.eq(connection_id))
                .filter(project_state::Column::ProjectKey.eq(project_key))
                .filter(project_state::Column::Version.eq(v))
                .exec(txn)
                .await?;
            Ok((res.rows_affected == 1).then_some(v + 1))
        }
    }
}

/// Stores a gate learnt from SonarQube's Web API (a new subscription) as the project's first
/// state, with no analysis date, so any later analysis is compared against it. Does nothing if a
/// state exists; returns whether it stored one.
pub async fn seed_state(
    db: &impl ConnectionTrait,
    connection_id: i64,
    project_key: &str,
    gate: Gate,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let row = project_state::ActiveModel {
        connection_id: Set(connection_id),
        project_key: Set(project_key.to_owned()),
        gate: Set(gate.as_str().to_owned()),
        analysed_at: Set(None),
        changed_at: Set(None),
        failing_since: Set(None),
        version: Set(1),
        updated_at: Set(now),
        ..Default::default()
    };
    let inserted = project_state::Entity::insert(row)
        .on_conflict(
            sea_orm::sea_query::OnConflict::columns([
                project_state::Column::ConnectionId,
                project_state::Column::ProjectKey,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(inserted == 1)
}
