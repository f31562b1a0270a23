//! Group commit: one task owns ingest writes and commits whatever has queued up while the previous
//! commit was running, in a single transaction. Each caller is answered only after that commit, so
//! nothing is acknowledged before it is on disk, and the cost of the commit (an fsync) is shared.

use sea_orm::{DatabaseConnection, DbErr};
use tokio::sync::{mpsc, oneshot};

use super::ingest::{self, IngestOutcome, IngestWrite};

/// Most writes in one transaction; more wait for the next one.
const MAX_BATCH: usize = 256;
/// Writes that may wait for the writer before senders are slowed down.
const QUEUE: usize = 4096;

type Reply = oneshot::Sender<Result<IngestOutcome, DbErr>>;

/// A cheap, clonable handle to the writer task.
#[derive(Debug, Clone)]
pub struct Writer {
    tx: mpsc::Sender<(IngestWrite, Reply)>,
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
        self.tx
            .send((write, reply))
            .await
            .map_err(|_| DbErr::Custom("the database writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| DbErr::Custom("the database writer stopped before committing".into()))?
    }
}

async fn run(db: DatabaseConnection, mut rx: mpsc::Receiver<(IngestWrite, Reply)>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let (writes, replies): (Vec<IngestWrite>, Vec<Reply>) = batch.drain(..).unzip();
        match ingest::commit_batch(&db, &writes).await {
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
}
