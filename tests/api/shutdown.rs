//! Graceful shutdown of the real binary on SIGTERM: no new connection is taken, the HTTP request
//! under way is answered, the post out to Slack finishes and is recorded, the rest stays pending
//! (and is logged), and the next start sends it exactly once.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use sea_orm::EntityTrait;
use sonar_slack::domain::signature::sonar_signature;
use sonar_slack::domain::types::{ChannelId, ProjectKey};
use sonar_slack::store::catalog;
use sonar_slack::testing::fake_slack::Scripted;

use crate::helpers::*;
use crate::process::{Seeded, Service, ServiceEnv, seed_database};

const CHANNEL: &str = "C0STOP0001";

async fn subscribe(conn: &Seeded) {
    catalog::subscribe(
        &conn.db,
        &team(),
        &ChannelId::parse(CHANNEL).expect("channel"),
        conn.connection,
        &ProjectKey::parse(PROJECT).expect("key"),
        Some("shutdown-test"),
    )
    .await
    .expect("subscribe");
}

async fn webhook(base: &str, body: &[u8]) -> serde_json::Value {
    let res = reqwest::Client::new()
        .post(format!("{base}/webhooks/sonarqube"))
        .header("Content-Type", "application/json")
        .header(
            "X-Sonar-Webhook-HMAC-SHA256",
            sonar_signature(SECRET.as_bytes(), body),
        )
        .body(body.to_vec())
        .send()
        .await
        .expect("webhook");
    assert_eq!(res.status(), 200);
    res.json().await.expect("json")
}

#[tokio::test]
async fn sigterm_finishes_the_post_in_flight_and_leaves_the_rest_pending() {
    for db in databases().await {
        let fake = fake_slack();
        fake.add_token(TOKEN, TEAM);
        let dir = tempfile::tempdir().expect("dir");
        let env = ServiceEnv::new(&db, &fake.api_url(), dir.path())
            .set("SONAR_SLACK_SHUTDOWN_GRACE_SECS", 20);
        let conn = seed_database(&db).await;
        subscribe(&conn).await;
        let mut service = Service::start(&env, 0).await;
        // Slack takes its time over the first post.
        fake.script(
            CHANNEL,
            [Scripted::Slow {
                delay: Duration::from_millis(1500),
            }],
        );
        for (fixture, minute) in [(PASSED, 0), (FAILED, 10), (PASSED, 20), (FAILED, 30)] {
            webhook(&service.base, &at(fixture, minute)).await;
        }
        let deadline = tokio::time::Instant::now() + WAIT;
        while fake.posts_arrived() == 0 {
            assert!(tokio::time::Instant::now() < deadline, "no post went out");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        service.terminate();
        let status = service.exited(WAIT).await;
        let log = service.output();
        assert!(status.success(), "exit {status}:\n{log}");
        assert!(log.contains("stopping"), "{log}");
        assert!(
            log.contains("2 deliveries left pending for the next start"),
            "{log}"
        );
        let rows = sonar_slack::store::deliveries::all(&conn.db)
            .await
            .expect("rows");
        let states: Vec<_> = rows
            .iter()
            .map(|d| (d.status.as_str(), d.in_flight, d.ambiguous_attempts))
            .collect();
        assert_eq!(
            states,
            [
                ("sent", false, 0),
                ("pending", false, 0),
                ("pending", false, 0)
            ],
            "{rows:?}"
        );
        assert_eq!(fake.messages().len(), 1);

        // The next start sends the two left, once each, in order.
        let next = Service::start(&env, 1).await;
        fake.wait_for_messages(3, WAIT).await.expect("the rest");
        let rows = wait_until_settled(&conn).await;
        assert!(
            rows.iter()
                .all(|d| d.status == "sent" && d.ambiguous_attempts == 0),
            "{rows:?}"
        );
        let texts: Vec<_> = fake.messages().into_iter().map(|m| m.text).collect();
        assert_eq!(texts.len(), 3, "{texts:?}");
        assert!(texts[0].starts_with("Quality gate failed"), "{texts:?}");
        assert!(texts[1].starts_with("Quality gate passed"), "{texts:?}");
        assert!(texts[2].starts_with("Quality gate failed"), "{texts:?}");
        assert_never_rate_limited(&fake);
        next.kill();
        db.cleanup().await;
    }
}

#[tokio::test]
async fn sigterm_answers_the_request_under_way_and_takes_no_new_one() {
    for db in databases().await {
        let fake = fake_slack();
        let dir = tempfile::tempdir().expect("dir");
        let env = ServiceEnv::new(&db, &fake.api_url(), dir.path());
        let conn = seed_database(&db).await;
        let mut service = Service::start(&env, 0).await;
        let addr = service.base.trim_start_matches("http://").to_owned();

        // A webhook whose body is still arriving when SIGTERM comes.
        let body = at(PASSED, 0);
        let head = format!(
            "POST /webhooks/sonarqube HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: {}\r\nX-Sonar-Webhook-HMAC-SHA256: {}\r\n\r\n",
            body.len(),
            sonar_signature(SECRET.as_bytes(), &body)
        );
        let mut slow = TcpStream::connect(&addr).expect("connect");
        slow.write_all(head.as_bytes()).expect("head");
        let (first, rest) = body.split_at(body.len() / 2);
        slow.write_all(first).expect("half the body");
        // The server is serving (so the slow connection was accepted before it).
        let health = reqwest::get(format!("{}/healthz", service.base))
            .await
            .expect("health");
        assert!(health.status().is_success());

        service.terminate();
        let deadline = tokio::time::Instant::now() + WAIT;
        while TcpStream::connect(&addr).is_ok() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "new connections are still taken"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        slow.write_all(rest).expect("the rest of the body");
        slow.set_read_timeout(Some(WAIT)).expect("timeout");
        let mut answer = String::new();
        let _ = slow.read_to_string(&mut answer);
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.contains("first_status"), "{answer}");
        let status = service.exited(WAIT).await;
        assert!(status.success(), "exit {status}:\n{}", service.output());
        let events = entity::webhook_event::Entity::find()
            .all(&conn.db)
            .await
            .expect("events");
        assert_eq!(events.len(), 1, "the webhook answered 200 is stored");
        db.cleanup().await;
    }
}

async fn wait_until_settled(conn: &Seeded) -> Vec<entity::delivery::Model> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let rows = sonar_slack::store::deliveries::all(&conn.db)
            .await
            .expect("rows");
        if rows.iter().all(|d| d.status != "pending") {
            return rows;
        }
        assert!(tokio::time::Instant::now() < deadline, "{rows:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
