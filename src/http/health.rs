//! `GET /healthz` (the process is up), `GET /readyz` (the database answers and the actors run) and
//! `GET /metrics` (Prometheus text, counters plus gauges read at scrape).

use std::sync::atomic::Ordering;
use std::time::Duration;

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use super::AppState;
use crate::actors::{ActorStats, GetStats};
use crate::store;
use crate::telemetry::scrape::{self, Gauges};

/// How long a readiness check or a scrape waits for the database or the actors.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Liveness: answering is the whole check, so a database outage does not get the process restarted.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}))
}

/// Readiness: 200 when the database answers a query and the Registry answers a message; otherwise
/// 503 saying which check failed and what to do.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let (database, actors) = tokio::join!(database(&state), actors(&state));
    let stopping = state.shared.stopping.load(Ordering::SeqCst);
    let database_ok = database.is_ok();
    let database = match database {
        Ok(()) => json!({"status": "ok"}),
        Err(error) => json!({
            "status": "failed",
            "error": error,
            "action": "check that the database is up and reachable with SONAR_SLACK_DATABASE_URL; webhooks are refused with 503 until it answers",
        }),
    };
    let actors_ok = actors.is_ok();
    let actors = match actors {
        Ok(stats) => {
            json!({"status": "ok", "projects": stats.projects, "channels": stats.channels})
        }
        Err(error) => json!({
            "status": "failed",
            "error": error,
            "action": "the actor system is stuck or stopped; look for errors in the log and restart the service",
        }),
    };
    let mut body = json!({"database": database, "actors": actors});
    let ready = database_ok && actors_ok && !stopping;
    if let Value::Object(fields) = &mut body {
        fields.insert(
            "status".into(),
            (if ready { "ready" } else { "not_ready" }).into(),
        );
        if stopping {
            fields.insert(
                "stopping".into(),
                "the service is shutting down; send traffic to another instance".into(),
            );
        }
    }
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let (queue, actors) = tokio::join!(
        async {
            match tokio::time::timeout(CHECK_TIMEOUT, store::queue::depth(&state.db)).await {
                Ok(Ok(rows)) => Ok(rows),
                Ok(Err(e)) => Err(format!("the database did not answer: {e}")),
                Err(_) => Err(timed_out("the database")),
            }
        },
        actors(&state)
    );
    let gauges = Gauges {
        queue,
        actors: actors.map(|s| {
            vec![
                ("project", s.projects as u64),
                ("channel", s.channels as u64),
            ]
        }),
    };
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(scrape::render(&state.counters, &gauges))
}

async fn database(state: &AppState) -> Result<(), String> {
    match tokio::time::timeout(CHECK_TIMEOUT, store::queue::probe(&state.db)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("the database refused a query: {e}")),
        Err(_) => Err(timed_out("the database")),
    }
}

async fn actors(state: &AppState) -> Result<ActorStats, String> {
    match tokio::time::timeout(CHECK_TIMEOUT, state.registry.send(GetStats)).await {
        Ok(Ok(stats)) => Ok(stats),
        Ok(Err(_)) => Err("the actor registry has stopped".into()),
        Err(_) => Err(timed_out("the actor registry")),
    }
}

fn timed_out(what: &str) -> String {
    format!("{what} did not answer within {} s", CHECK_TIMEOUT.as_secs())
}
