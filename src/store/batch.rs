//! A batch of ingest writes as a few multi-row statements, whatever its size: the inbox rows (a
//! duplicate is one the insert skipped), the project states (an upsert that only replaces the
//! version it expects), the notifications, the routes they go to, and the delivery rows. The
//! caller runs it inside the batch's transaction and falls back to one write at a time on error.

use std::collections::{HashMap, HashSet};

use entity::{delivery, notification, project_state, subscription, webhook_event};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict, Query, ReturningClause};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QueryResult,
};

use super::ingest::{IngestOutcome, IngestWrite, NewDelivery};
use super::status;

type Key = (i64, String);

/// Whether [`apply`] can take this batch: one write per project at most (each ProjectActor waits
/// for its commit before it sends the next, so this is the usual case).
pub(super) fn fits(writes: &[IngestWrite]) -> bool {
    let mut seen = HashSet::with_capacity(writes.len());
    writes
        .iter()
        .all(|w| seen.insert((w.connection_id, w.project_key.as_str())))
}

fn key_of(row: &QueryResult) -> Result<Key, DbErr> {
    Ok((
        row.try_get("", "connection_id")?,
        row.try_get("", "project_key")?,
    ))
}

fn returning_key() -> ReturningClause {
    Query::returning().columns([Alias::new("connection_id"), Alias::new("project_key")])
}

fn bad(e: impl std::fmt::Display) -> DbErr {
    DbErr::Custom(e.to_string())
}

/// Applies every write; the outcomes are in the order of `writes`.
pub(super) async fn apply(
    txn: &DatabaseTransaction,
    writes: &[IngestWrite],
) -> Result<Vec<IngestOutcome>, DbErr> {
    let inserted = insert_inbox(txn, writes).await?;
    let versions = write_states(txn, writes, &inserted).await?;
    // A write whose state another writer changed first leaves nothing behind: it is decided again.
    let conflicted: Vec<&IngestWrite> = writes
        .iter()
        .filter(|w| {
            let key = (w.connection_id, w.project_key.clone());
            inserted.contains(&key) && w.state.is_some() && !versions.contains_key(&key)
        })
        .collect();
    if !conflicted.is_empty() {
        forget_inbox(txn, &conflicted).await?;
    }
    let notifying: Vec<&IngestWrite> = writes
        .iter()
        .filter(|w| {
            let key = (w.connection_id, w.project_key.clone());
            w.notification.is_some()
                && inserted.contains(&key)
                && (w.state.is_none() || versions.contains_key(&key))
        })
        .collect();
    let mut deliveries = insert_notifications(txn, &notifying).await?;
    Ok(writes
        .iter()
        .map(|w| {
            let key = (w.connection_id, w.project_key.clone());
            if !inserted.contains(&key) {
                IngestOutcome::Duplicate
            } else if w.state.is_some() && !versions.contains_key(&key) {
                IngestOutcome::Conflict
            } else {
                IngestOutcome::Committed {
                    version: versions.get(&key).copied(),
                    deliveries: deliveries.remove(&key).unwrap_or_default(),
                }
            }
        })
        .collect())
}

/// Inserts the inbox rows; returns the projects whose row was new (the others are duplicates).
async fn insert_inbox(
    txn: &DatabaseTransaction,
    writes: &[IngestWrite],
) -> Result<HashSet<Key>, DbErr> {
    use webhook_event::Column as C;
    let mut q = Query::insert();
    q.into_table(webhook_event::Entity).columns([
        C::ConnectionId,
        C::ProjectKey,
        C::DedupeKey,
        C::Decision,
        C::Body,
        C::ReceivedAt,
    ]);
    for w in writes {
        q.values([
            w.connection_id.into(),
            w.project_key.clone().into(),
            w.dedupe_key.clone().into(),
            w.decision_code.into(),
            w.body.clone().into(),
            w.now.into(),
        ])
        .map_err(bad)?;
    }
    q.on_conflict(
        OnConflict::columns([C::ConnectionId, C::ProjectKey, C::DedupeKey])
            .do_nothing()
            .to_owned(),
    )
    .returning(returning_key());
    let rows = txn.query_all(&q).await?;
    rows.iter().map(key_of).collect()
}

/// Upserts the states of the new events: a first state only where none exists, a later one only
/// over the version it was decided from. Returns the new version of each state written.
async fn write_states(
    txn: &DatabaseTransaction,
    writes: &[IngestWrite],
    inserted: &HashSet<Key>,
) -> Result<HashMap<Key, i64>, DbErr> {
    use project_state::Column as C;
    let mut q = Query::insert();
    q.into_table(project_state::Entity).columns([
        C::ConnectionId,
        C::ProjectKey,
        C::Gate,
        C::AnalysedAt,
        C::ChangedAt,
        C::FailingSince,
        C::Version,
        C::UpdatedAt,
    ]);
    let mut any = false;
    for w in writes {
        let Some((memory, expected)) = &w.state else {
            continue;
        };
        if !inserted.contains(&(w.connection_id, w.project_key.clone())) {
            continue;
        }
        any = true;
        // Versions start at 1, so a first state (expected `None`) never replaces a row.
        let version = expected.map_or(1, |v| v + 1);
        q.values([
            w.connection_id.into(),
            w.project_key.clone().into(),
            memory.gate.as_str().into(),
            memory.order.analysed_at.into(),
            memory.order.changed_at.into(),
            memory.failing_since.into(),
            version.into(),
            w.now.into(),
        ])
        .map_err(bad)?;
    }
    if !any {
        return Ok(HashMap::new());
    }
    let excluded = |c: C| Expr::col((Alias::new("excluded"), c));
    q.on_conflict(
        OnConflict::columns([C::ConnectionId, C::ProjectKey])
            .update_columns([
                C::Gate,
                C::AnalysedAt,
                C::ChangedAt,
                C::FailingSince,
                C::Version,
                C::UpdatedAt,
            ])
            .action_and_where(
                Expr::col((project_state::Entity, C::Version)).eq(excluded(C::Version).sub(1)),
            )
            .to_owned(),
    )
    .returning(Query::returning().columns([
        Alias::new("connection_id"),
        Alias::new("project_key"),
        Alias::new("version"),
    ]));
    let rows = txn.query_all(&q).await?;
    rows.iter()
        .map(|row| Ok((key_of(row)?, row.try_get("", "version")?)))
        .collect()
}

/// Removes the inbox rows of writes that lost their state update to another writer.
async fn forget_inbox(txn: &DatabaseTransaction, writes: &[&IngestWrite]) -> Result<(), DbErr> {
    use webhook_event::Column as C;
    let mut any = Condition::any();
    for w in writes {
        any = any.add(
            Condition::all()
                .add(C::ConnectionId.eq(w.connection_id))
                .add(C::ProjectKey.eq(w.project_key.as_str()))
                .add(C::DedupeKey.eq(w.dedupe_key.as_str())),
        );
    }
    webhook_event::Entity::delete_many()
        .filter(any)
        .exec(txn)
        .await
        .map(|_| ())
}

/// Inserts the notifications and one delivery per active route; returns each project's new
/// deliveries, in subscription order.
async fn insert_notifications(
    txn: &DatabaseTransaction,
    writes: &[&IngestWrite],
) -> Result<HashMap<Key, Vec<NewDelivery>>, DbErr> {
    let mut out: HashMap<Key, Vec<NewDelivery>> = HashMap::new();
    if writes.is_empty() {
        return Ok(out);
    }
    use notification::Column as N;
    let mut q = Query::insert();
    q.into_table(notification::Entity).columns([
        N::ConnectionId,
        N::ProjectKey,
        N::Transition,
        N::Message,
        N::CreatedAt,
    ]);
    for w in writes {
        let Some((transition, message)) = &w.notification else {
            continue;
        };
        q.values([
            w.connection_id.into(),
            w.project_key.clone().into(),
            (*transition).into(),
            message.clone().into(),
            w.now.into(),
        ])
        .map_err(bad)?;
    }
    q.returning(Query::returning().columns([
        Alias::new("id"),
        Alias::new("connection_id"),
        Alias::new("project_key"),
    ]));
    let mut notes: HashMap<Key, i64> = HashMap::new();
    for row in txn.query_all(&q).await? {
        notes.insert(key_of(&row)?, row.try_get("", "id")?);
    }

    let mut of_projects = Condition::any();
    for w in writes {
        of_projects = of_projects.add(
            Condition::all()
                .add(subscription::Column::ConnectionId.eq(w.connection_id))
                .add(subscription::Column::ProjectKey.eq(w.project_key.as_str())),
        );
    }
    let routes = subscription::Entity::find()
        .filter(subscription::Column::Status.eq(status::ACTIVE))
        .filter(of_projects)
        .order_by_asc(subscription::Column::Id)
        .all(txn)
        .await?;
    // Routes in notification order, then subscription order: ids follow creation order.
    let mut planned: Vec<(&IngestWrite, i64, subscription::Model)> = Vec::new();
    for w in writes {
        let key = (w.connection_id, w.project_key.clone());
        let Some(note) = notes.get(&key) else {
            continue;
        };
        for route in routes
            .iter()
            .filter(|r| r.connection_id == w.connection_id && r.project_key == w.project_key)
        {
            planned.push((w, *note, route.clone()));
        }
    }
    if planned.is_empty() {
        return Ok(out);
    }
    use delivery::Column as D;
    let mut q = Query::insert();
    q.into_table(delivery::Entity).columns([
        D::NotificationId,
        D::SubscriptionId,
        D::TeamId,
        D::ChannelId,
        D::Status,
        D::Attempts,
        D::AmbiguousAttempts,
        D::InFlight,
        D::CreatedAt,
        D::UpdatedAt,
    ]);
    for (w, note, route) in &planned {
        q.values([
            (*note).into(),
            route.id.into(),
            route.team_id.clone().into(),
            route.channel_id.clone().into(),
            status::PENDING.into(),
            0i32.into(),
            0i32.into(),
            false.into(),
            w.now.into(),
            w.now.into(),
        ])
        .map_err(bad)?;
    }
    q.returning(Query::returning().columns([
        Alias::new("id"),
        Alias::new("notification_id"),
        Alias::new("subscription_id"),
    ]));
    let mut ids: HashMap<(i64, i64), i64> = HashMap::new();
    for row in txn.query_all(&q).await? {
        let pair = (
            row.try_get("", "notification_id")?,
            row.try_get("", "subscription_id")?,
        );
        ids.insert(pair, row.try_get("", "id")?);
    }
    for (w, note, route) in planned {
        let id = *ids
            .get(&(note, route.id))
            .ok_or_else(|| bad("a delivery row was not returned"))?;
        let message = w
            .notification
            .as_ref()
            .map(|(_, m)| m.clone())
            .unwrap_or_default();
        out.entry((w.connection_id, w.project_key.clone()))
            .or_default()
            .push(NewDelivery {
                id,
                project_key: w.project_key.clone(),
                team_id: route.team_id,
                channel_id: route.channel_id,
                message,
                created_at: w.now,
            });
    }
    Ok(out)
}
