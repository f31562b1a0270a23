//! Load generation: signed webhook bodies, closed-loop connections for a duration (ingest and the
//! `/healthz` ceiling), and webhooks sent at a fixed rate (latency).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sonar_slack::domain::signature::sonar_signature;

use super::http1;
use super::world::{SECRET, SERVER, analysed_at, project_key};

const FAILED: &str = include_str!("../../tests/fixtures/sonarqube/main-branch-failed.json");
const PASSED: &str = include_str!("../../tests/fixtures/sonarqube/main-branch-passed.json");

/// Real webhook bodies with the project and the analysis time left as placeholders.
pub struct Bodies {
    passed: String,
    failed: String,
}

impl Bodies {
    pub fn new() -> Self {
        let template = |fixture: &str| {
            let mut v: serde_json::Value = serde_json::from_str(fixture).expect("fixture");
            v["serverUrl"] = SERVER.into();
            v["project"]["key"] = "@PROJECT@".into();
            v["project"]["name"] = "@PROJECT@".into();
            v["analysedAt"] = "@WHEN@".into();
            v["changedAt"] = "@WHEN@".into();
            serde_json::to_string(&v).expect("json")
        };
        Self {
            passed: template(PASSED),
            failed: template(FAILED),
        }
    }

    /// Analysis `n` (a distinct, later time for each `n`) of `project`, passed or failed.
    pub fn webhook(&self, failed: bool, project: usize, n: usize) -> Vec<u8> {
        let template = if failed { &self.failed } else { &self.passed };
        let when = analysed_at(n).format("%Y-%m-%dT%H:%M:%S+0000").to_string();
        template
            .replace("@PROJECT@", &project_key(project))
            .replace("@WHEN@", &when)
            .into_bytes()
    }
}

/// One request to send.
pub enum Request {
    Health,
    Webhook(Vec<u8>),
}

/// What one request gave.
#[derive(Debug, Clone, Copy)]
pub struct Answer {
    pub n: usize,
    pub ok: bool,
    pub latency: Duration,
    /// When the answer arrived (wall clock, comparable with the fake Slack's receipts).
    pub at: DateTime<Utc>,
}

/// Sends one request; returns whether it got a 2xx and when its status line arrived.
async fn send(client: &reqwest::Client, base: &str, request: Request) -> (bool, DateTime<Utc>) {
    let sent = match request {
        Request::Health => client.get(format!("{base}/healthz")).send().await,
        Request::Webhook(body) => {
            let signature = sonar_signature(SECRET.as_bytes(), &body);
            client
                .post(format!("{base}/webhooks/sonarqube"))
                .header("Content-Type", "application/json; charset=utf-8")
                .header("X-Sonar-Webhook-HMAC-SHA256", signature)
                .body(body)
                .send()
                .await
        }
    };
    let at = Utc::now();
    match sent {
        Ok(res) => {
            let ok = res.status().is_success();
            // Read the body so the connection is reused.
            let _ = res.bytes().await;
            (ok, at)
        }
        Err(_) => (false, at),
    }
}

/// Every answer of a closed-loop run, and how long the run took until its last answer.
pub struct Run {
    pub answers: Vec<Answer>,
    pub elapsed: Duration,
}

/// `connections` clients, each on its own keep-alive connection (see [`super::http1`]), send one
/// request after another until `duration` has passed; `make(n)` builds the `n`-th request.
pub async fn closed_loop(
    base: &str,
    connections: usize,
    duration: Duration,
    make: Arc<dyn Fn(usize) -> Request + Send + Sync>,
) -> Run {
    let addr = base.trim_start_matches("http://").to_owned();
    let counter = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::with_capacity(connections);
    for _ in 0..connections {
        let (counter, make) = (counter.clone(), make.clone());
        let mut connection = http1::Connection::new(&addr);
        tasks.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            while Instant::now() < deadline {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let request = match make(n) {
                    Request::Health => http1::health(),
                    Request::Webhook(body) => {
                        http1::webhook(&body, &sonar_signature(SECRET.as_bytes(), &body))
                    }
                };
                let t = Instant::now();
                let status = connection.send(&request).await;
                answers.push(Answer {
                    n,
                    ok: status.is_ok_and(|s| (200..300).contains(&s)),
                    latency: t.elapsed(),
                    at: Utc::now(),
                });
            }
            answers
        }));
    }
    let mut answers = Vec::new();
    for task in tasks {
        answers.extend(task.await.expect("client task"));
    }
    Run {
        answers,
        elapsed: started.elapsed(),
    }
}

/// Sends `total` requests at `per_second`, each on its own task (an open loop: a slow answer does
/// not slow the senders down).
pub async fn at_rate(
    base: &str,
    per_second: usize,
    total: usize,
    make: Arc<dyn Fn(usize) -> Request + Send + Sync>,
) -> Vec<Answer> {
    let client = reqwest::Client::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1) / per_second.max(1) as u32);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::with_capacity(total);
    for n in 0..total {
        tick.tick().await;
        let (client, base, request) = (client.clone(), base.to_owned(), make(n));
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let (ok, at) = send(&client, &base, request).await;
            Answer {
                n,
                ok,
                latency: t.elapsed(),
                at,
            }
        }));
    }
    let mut answers = Vec::with_capacity(total);
    for task in tasks {
        answers.push(task.await.expect("sender task"));
    }
    answers
}

/// Sends each request once with `concurrency` in flight at most; returns the answers.
pub async fn all(
    base: &str,
    concurrency: usize,
    requests: impl Iterator<Item = Request>,
) -> Vec<Answer> {
    let client = reqwest::Client::new();
    let gate = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let mut tasks = Vec::new();
    for (n, request) in requests.enumerate() {
        let permit = gate.clone().acquire_owned().await.expect("semaphore");
        let (client, base) = (client.clone(), base.to_owned());
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let (ok, at) = send(&client, &base, request).await;
            drop(permit);
            Answer {
                n,
                ok,
                latency: t.elapsed(),
                at,
            }
        }));
    }
    let mut answers = Vec::with_capacity(tasks.len());
    for task in tasks {
        answers.push(task.await.expect("sender task"));
    }
    answers
}
