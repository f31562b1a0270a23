//! Crash safety of the real binary: a storm of webhooks at many projects and channels, a SIGKILL
//! at a random point, a restart, and then a check against the fake Slack that every acknowledged
//! webhook produced exactly its posts, none were lost, and any duplicate is one the service itself
//! counted as ambiguous.
//!
//! `SONAR_SLACK_TEST_CRASH_SEED` replays a run (the seed is printed); `SONAR_SLACK_TEST_CRASH_ROUNDS`
//! sets how many kill-and-restart rounds run per database (default 5).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use entity::{delivery, notification};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sea_orm::EntityTrait;
use sonar_slack::domain::signature::sonar_signature;
use sonar_slack::domain::types::{ChannelId, ProjectKey};
use sonar_slack::store::catalog;
use sonar_slack::testing::fake_slack::{FakeSlack, FakeSlackConfig};

use crate::helpers::*;
use crate::process::{Seeded, Service, ServiceEnv, seed_database};

const PROJECTS: usize = 30;
const CHANNELS: usize = 10;
/// Each project: a first status, a failure, a recovery (two posts per subscribed channel).
const STEPS: [(&str, u32); 3] = [(PASSED, 0), (FAILED, 10), (PASSED, 20)];
const SENDERS: usize = 6;

/// What one round saw.
#[derive(Debug, Default)]
struct Tally {
    acknowledged: usize,
    expected: usize,
    seen: usize,
    duplicates: usize,
    ambiguous: usize,
    unacknowledged_but_posted: usize,
}

#[tokio::test]
async fn a_sigkill_in_a_storm_loses_nothing_and_duplicates_only_what_it_counts() {
    let seed = std::env::var("SONAR_SLACK_TEST_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random::<u64>);
    let rounds: usize = std::env::var("SONAR_SLACK_TEST_CRASH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    println!(
        "crash test: seed {seed} (SONAR_SLACK_TEST_CRASH_SEED={seed} replays it), {rounds} rounds per database"
    );
    let mut rng = StdRng::seed_from_u64(seed);
    for db in databases().await {
        // Slack's pace is 1 msg/s per channel; here both sides run five times faster so that a
        // round takes seconds. The fake answers 429 to any post less than 100 ms after the last.
        let fake = FakeSlack::start(FakeSlackConfig {
            per_channel_interval: Duration::from_millis(200),
            tolerance: Duration::from_millis(100),
            retry_after_secs: 1,
        })
        .expect("fake slack");
        fake.add_token(TOKEN, TEAM);
        let dir = tempfile::tempdir().expect("dir");
        let env = ServiceEnv::new(&db, &fake.api_url(), dir.path())
            .set("SONAR_SLACK_SLACK_CHANNEL_PER_SECOND", 5)
            .set("SONAR_SLACK_SLACK_WORKSPACE_PER_MINUTE", 60_000)
            .set("SONAR_SLACK_RETRY_BACKOFF_BASE_MS", 20)
            .set("SONAR_SLACK_SLACK_TIMEOUT_SECS", 2);
        let conn = seed_database(&db).await;
        let mut runs = 0;
        let mut service = Service::start(&env, runs).await;
        for round in 0..rounds {
            let subs = subscribe_round(&conn, round).await;
            let expected_posts = PROJECTS * 2 * 2;
            // The kill comes after a random number of acknowledged webhooks, or of posts seen.
            let kill_at = if rng.random_bool(0.5) {
                KillAt::Acknowledged(rng.random_range(1..PROJECTS * STEPS.len()))
            } else {
                KillAt::Posted(fake.messages().len() + rng.random_range(1..expected_posts))
            };
            let sent = Arc::new(Mutex::new(Vec::new()));
            let storm = tokio::spawn(storm(service.base.clone(), round, sent.clone()));
            wait_for_kill_point(&kill_at, &sent, &fake).await;
            service.kill();
            storm.await.expect("storm task");
            runs += 1;
            service = Service::start(&env, runs).await;
            let rows = settled(&conn).await;
            let sent = sent.lock().expect("lock").clone();
            let tally = check_round(round, &subs, &sent, &rows, &fake);
            println!(
                "crash test [{}] round {round} (killed at {kill_at:?}): webhooks acknowledged {}, posts expected {}, posts seen {}, duplicates {}, ambiguous {}, posted though unacknowledged {}",
                db.kind,
                tally.acknowledged,
                tally.expected,
                tally.seen,
                tally.duplicates,
                tally.ambiguous,
                tally.unacknowledged_but_posted
            );
        }
        assert_never_rate_limited(&fake);
        service.kill();
        drop(conn);
        db.cleanup().await;
    }
}

#[derive(Debug)]
enum KillAt {
    Acknowledged(usize),
    Posted(usize),
}

/// One webhook the storm sent and how it was answered.
#[derive(Debug, Clone)]
struct Sent {
    project: String,
    step: usize,
    /// The decision when answered 2xx; `None` when not acknowledged.
    decision: Option<String>,
}

fn project(round: usize, i: usize) -> String {
    format!("crash-r{round}-p{i:02}")
}

fn channel(i: usize) -> String {
    format!("C0CRASH{i:02}")
}

/// Each project of the round is heard by two channels; returns project → channels.
async fn subscribe_round(conn: &Seeded, round: usize) -> HashMap<String, Vec<String>> {
    let mut subs = HashMap::new();
    for i in 0..PROJECTS {
        let key = project(round, i);
        let channels = vec![channel(i % CHANNELS), channel((i + 3) % CHANNELS)];
        for c in &channels {
            catalog::subscribe(
                &conn.db,
                &team(),
                &ChannelId::parse(c).expect("channel"),
                conn.connection,
                &ProjectKey::parse(&key).expect("key"),
                Some("crash-test"),
            )
            .await
            .expect("subscribe");
        }
        subs.insert(key, channels);
    }
    subs
}

fn body(key: &str, step: usize) -> Vec<u8> {
    let (fixture, minute) = STEPS[step];
    edit(fixture, |v| {
        let when = format!("2024-05-01T10:{minute:02}:00+0000");
        v["analysedAt"] = when.clone().into();
        v["changedAt"] = when.into();
        v["taskId"] = format!("{key}-task-{step}").into();
        v["project"]["key"] = key.into();
        v["project"]["name"] = key.into();
    })
}

/// Sends every project's steps in order (projects in parallel) until the service goes away.
async fn storm(base: String, round: usize, sent: Arc<Mutex<Vec<Sent>>>) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let next = Arc::new(Mutex::new(0usize));
    let mut senders = Vec::new();
    for _ in 0..SENDERS {
        let (client, base, sent, next) = (client.clone(), base.clone(), sent.clone(), next.clone());
        senders.push(tokio::spawn(async move {
            loop {
                let i = {
                    let mut n = next.lock().expect("lock");
                    *n += 1;
                    *n - 1
                };
                if i >= PROJECTS {
                    return;
                }
                let key = project(round, i);
                for step in 0..STEPS.len() {
                    let body = body(&key, step);
                    let answer = client
                        .post(format!("{base}/webhooks/sonarqube"))
                        .header("Content-Type", "application/json")
                        .header(
                            "X-Sonar-Webhook-HMAC-SHA256",
                            sonar_signature(SECRET.as_bytes(), &body),
                        )
                        .body(body)
                        .send()
                        .await;
                    let decision = match answer {
                        Ok(r) if r.status().is_success() => r
                            .json::<serde_json::Value>()
                            .await
                            .ok()
                            .and_then(|j| j["decision"].as_str().map(str::to_owned)),
                        _ => None,
                    };
                    let acked = decision.is_some();
                    sent.lock().expect("lock").push(Sent {
                        project: key.clone(),
                        step,
                        decision,
                    });
                    if !acked {
                        // SonarQube does not retry either; the project's later steps are not sent.
                        break;
                    }
                }
            }
        }));
    }
    for s in senders {
        let _ = s.await;
    }
}

async fn wait_for_kill_point(kill_at: &KillAt, sent: &Mutex<Vec<Sent>>, fake: &FakeSlack) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let reached = match *kill_at {
            KillAt::Acknowledged(n) => {
                let acked = sent.lock().expect("lock");
                acked.iter().filter(|s| s.decision.is_some()).count() >= n
            }
            KillAt::Posted(n) => fake.messages().len() >= n,
        };
        if reached {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "kill point {kill_at:?} never reached"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Waits until no delivery is pending, then returns every delivery with its notification.
async fn settled(conn: &Seeded) -> Vec<(delivery::Model, notification::Model)> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let rows = delivery::Entity::find()
            .all(&conn.db)
            .await
            .expect("deliveries");
        if rows.iter().all(|d| d.status != "pending") {
            let notes: HashMap<i64, notification::Model> = notification::Entity::find()
                .all(&conn.db)
                .await
                .expect("notifications")
                .into_iter()
                .map(|n| (n.id, n))
                .collect();
            return rows
                .into_iter()
                .map(|d| {
                    let n = notes[&d.notification_id].clone();
                    (d, n)
                })
                .collect();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "deliveries still pending after the restart: {:?}",
            rows.iter()
                .filter(|d| d.status == "pending")
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The round's verdict; panics with the details on any loss, phantom or uncounted duplicate.
fn check_round(
    round: usize,
    subs: &HashMap<String, Vec<String>>,
    sent: &[Sent],
    rows: &[(delivery::Model, notification::Model)],
    fake: &FakeSlack,
) -> Tally {
    let prefix = format!("crash-r{round}-");
    let kind_of_step = |step: usize| if step == 1 { "failed" } else { "recovered" };
    // (channel, project, kind) → how many posts Slack shows.
    let mut seen: BTreeMap<(String, String, &str), usize> = BTreeMap::new();
    for m in fake.messages() {
        let Some(at) = m.text.find(&prefix) else {
            continue;
        };
        let key: String = m.text[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        let kind = if m.text.starts_with("Quality gate failed") {
            "failed"
        } else {
            "recovered"
        };
        *seen.entry((m.channel.clone(), key, kind)).or_default() += 1;
    }
    // (channel, project, kind) → the delivery's ambiguous count.
    let mut ambiguous: HashMap<(String, String, &str), i32> = HashMap::new();
    let mut tally = Tally::default();
    for (d, n) in rows {
        if !n.project_key.starts_with(&prefix) {
            continue;
        }
        assert_eq!(d.status, "sent", "a delivery did not end sent: {d:?}");
        let kind = if n.transition == "failed" {
            "failed"
        } else {
            "recovered"
        };
        if d.ambiguous_attempts > 0 {
            tally.ambiguous += 1;
        }
        ambiguous.insert(
            (d.channel_id.clone(), n.project_key.clone(), kind),
            d.ambiguous_attempts,
        );
    }
    let mut expected: BTreeMap<(String, String, &str), bool> = BTreeMap::new();
    for s in sent {
        let notifies = s.step > 0;
        match &s.decision {
            Some(decision) => {
                tally.acknowledged += 1;
                let want = if notifies { "notified" } else { "first_status" };
                assert_eq!(decision, want, "{s:?}");
            }
            None if !notifies => continue,
            None => {}
        }
        if notifies {
            for c in &subs[&s.project] {
                expected.insert(
                    (c.clone(), s.project.clone(), kind_of_step(s.step)),
                    s.decision.is_some(),
                );
            }
        }
    }
    for (key, count) in &seen {
        let acked = expected
            .get(key)
            .unwrap_or_else(|| panic!("Slack got a post nobody asked for: {key:?} ×{count}"));
        tally.seen += count;
        if !acked {
            tally.unacknowledged_but_posted += 1;
        }
        if *count > 1 {
            tally.duplicates += count - 1;
            let counted = ambiguous.get(key).copied().unwrap_or(0);
            assert!(
                usize::try_from(counted).unwrap_or(0) >= count - 1,
                "{key:?} was posted {count} times but counted ambiguous only {counted} times"
            );
        }
    }
    for (key, acked) in &expected {
        if *acked {
            tally.expected += 1;
            assert!(
                seen.contains_key(key),
                "lost: acknowledged post {key:?} never reached Slack"
            );
            assert!(
                ambiguous.contains_key(key),
                "no delivery row for acknowledged post {key:?}"
            );
        }
    }
    tally
}
