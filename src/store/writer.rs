//! Group commit: one task owns the hot writes (webhook ingests, and the writes around every post
//! to Slack: the channel's lease, the attempt, the outcome) and commits whatever has queued up while the previous commit was running, in a
//! single transaction. Each caller is answered only after that commit, so nothing is acknowledged
//! before it is on disk; the cost of the commit (an fsync) is shared, and on SQLite these writers
//! never wait on one another's lock.

use sea_orm::{DatabaseConnection, DbErr, TransactionTrait};
use tokio::sync::{mpsc, oneshot};

use chrono::{DateTime, Utc};

use super::ingest::{self, IngestOutcome, IngestWrite};
use super::{deliveries, leases};

/// Most writes in one transaction; more wait for the next one.
const MAX_BATCH: usize = 256;
/// Writes that may wait for the writer before senders are slowed down.
const QUEUE: usize = 4096;

type Reply<T> = oneshot::Sender<Result<T, DbErr>>;

/// A delivery's bookkeeping around its request to Slack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryWrite {
    /// See [`deliveries::count_attempt`]; answers whether the delivery is still pending.
    CountAttempt { id: i64 },
    /// See [`deliveries::mark_sent`].
    MarkSent { id: i64, ts: String },
    /// See [`leases::acquire`]; answers whether the lease is ours.
    TakeLease {
        team: String,
        channel: String,
        owner: String,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    },
}

enum Job {
    Ingest(IngestWrite, Reply<IngestOutcome>),
    Delivery(DeliveryWrite, Reply<bool>),
}

/// A cheap, clonable handle to the writer task.
#[derive(Debug, Clone)]
pub struct Writer {
    tx: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer on the current runtime (actix or tokio).
    pub fn spawn(db: DatabaseConnection) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::task::spawn_local(run(db, rx));
        Self { tx }
    }

    /// Queues a write and waits until it is committed (or refused).
    pub async fn commit(&self, write: IngestWrite) -> Result<IngestOutcome, DbErr> {
        let (reply, answer) = oneshot::channel();
        self.send(Job::Ingest(write, reply)).await?;
        answered(answer).await
    }

    /// Queues a delivery's write and waits until it is committed.
    pub async fn delivery(&self, write: DeliveryWrite) -> Result<bool, DbErr> {
        let (reply, answer) = oneshot::channel();
        self.send(Job::Delivery(write, reply)).await?;
        answered(answer).await
    }

    async fn send(&self, job: Job) -> Result<(), DbErr> {
        self.tx
            .send(job)
            .await
            .map_err(|_| DbErr::Custom("the database writer has stopped".into()))
    }
}

async fn answered<T>(answer: oneshot::Receiver<Result<T, DbErr>>) -> Result<T, DbErr> {
    answer
        .await
        .map_err(|_| DbErr::Custom("the database writer stopped before committing".into()))?
}

async fn run(db: DatabaseConnection, mut rx: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let mut ingests = Vec::new();
        let mut bookkeeping = Vec::new();
        for job in batch.drain(..) {
            match job {
                Job::Ingest(w, r) => ingests.push((w, r)),
                Job::Delivery(w, r) => bookkeeping.push((w, r)),
            }
        }
        if !bookkeeping.is_empty() {
            // Fast and never refused by a duplicate: committed first, on their own, so a post
            // to Slack does not wait for a large batch of webhooks.
            commit_deliveries(&db, bookkeeping).await;
        }
        if !ingests.is_empty() {
            commit_ingests(&db, ingests).await;
        }
    }
}

async fn commit_ingests(db: &DatabaseConnection, jobs: Vec<(IngestWrite, Reply<IngestOutcome>)>) {
    let (writes, replies): (Vec<IngestWrite>, Vec<_>) = jobs.into_iter().unzip();
    match ingest::commit_batch(db, &writes).await {
        Ok(results) => {
            for (reply, result) in replies.into_iter().zip(results) {
                let _ = reply.send(result);
            }
        }
        Err(e) => {
            tracing::error!(error = %e, writes = writes.len(), "a batch of webhook writes failed to commit");
            for reply in replies {
                let _ = reply.send(Err(DbErr::Custom(format!("the commit failed: {e}"))));
            }
        }
    }
}

async fn commit_deliveries(db: &DatabaseConnection, jobs: Vec<(DeliveryWrite, Reply<bool>)>) {
    let outcome = async {
        let txn = db.begin().await?;
        let mut results = Vec::with_capacity(jobs.len());
        for (write, _) in &jobs {
            results.push(match write {
                DeliveryWrite::CountAttempt { id } => deliveries::count_attempt(&txn, *id).await?,
                DeliveryWrite::MarkSent { id, ts } => {
                    deliveries::mark_sent(&txn, *id, ts).await?;
                    true
                }
                DeliveryWrite::TakeLease {
                    team,
                    channel,
                    owner,
                    now,
                    until,
                } => leases::acquire(&txn, team, channel, owner, *now, *until).await?,
            });
        }
        txn.commit().await?;
        Ok::<_, DbErr>(results)
    }
    .await;
    match outcome {
        Ok(results) => {
            for ((_, reply), result) in jobs.into_iter().zip(results) {
                let _ = reply.send(Ok(result));
            }
        }
        Err(e) => {
            for (_, reply) in jobs {
                let _ = reply.send(Err(DbErr::Custom(format!("the commit failed: {e}"))));
            }
        }
    }
}
