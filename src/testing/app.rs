//! The service on port 0 in its own thread and actix System, as a separate process would be:
//! used by the integration tests and the load bench.

use std::net::TcpListener;
use std::sync::mpsc;

use actix_web::dev::ServerHandle;
use anyhow::Context;

use crate::config::Settings;
use crate::crypto::Sealer;
use crate::startup::{Application, load_sealer, open_database};

pub struct SpawnedApp {
    pub port: u16,
    /// The service's own database handle (tests close it to see what the service does without it).
    db: sea_orm::DatabaseConnection,
    handle: ServerHandle,
    finished: Option<tokio::sync::oneshot::Receiver<()>>,
    system: actix_web::rt::System,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SpawnedApp {
    /// Builds and starts the service; returns once it listens.
    pub fn start(settings: Settings) -> anyhow::Result<SpawnedApp> {
        let (tx, rx) = mpsc::channel();
        let (done, finished) = tokio::sync::oneshot::channel();
        let thread = std::thread::spawn(move || {
            let system = actix_web::rt::System::new();
            let built = system.block_on(async move {
                let db = open_database(&settings).await?;
                let sealer: Sealer = load_sealer(&settings, &db).await?;
                let listener = TcpListener::bind("127.0.0.1:0")?;
                let app = Application::build_with(settings, db.clone(), sealer, listener)?;
                let started = (app.port(), app.handle(), db);
                actix_web::rt::spawn(async move {
                    if let Err(e) = app.run_until_stopped().await {
                        tracing::error!("service stopped with an error: {e:#}");
                    }
                    let _ = done.send(());
                });
                anyhow::Ok(started)
            });
            let ok = built.is_ok();
            let _ = tx.send(built.map(|(p, h, db)| (p, h, db, actix_web::rt::System::current())));
            if ok {
                let _ = system.run();
            }
        });
        let (port, handle, db, system) = rx
            .recv()
            .context("the service thread died while starting")??;
        Ok(SpawnedApp {
            port,
            db,
            handle,
            finished: Some(finished),
            system,
            thread: Some(thread),
        })
    }

    /// Closes the service's connection pool: from now on every query it makes fails.
    pub async fn close_database(&self) {
        let _ = self.db.clone().close().await;
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Stops as on SIGTERM: the server stops, requests already sent to Slack finish and are recorded.
    pub async fn stop(mut self) {
        self.handle.stop(true).await;
        if let Some(finished) = self.finished.take() {
            let _ = finished.await;
        }
        self.crash().await;
    }

    /// Stops abruptly, as a crash would: in-flight work is dropped, nothing is drained.
    pub async fn crash(mut self) {
        self.handle.stop(false).await;
        self.system.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
