//! Idle actors are evicted (`actor_idle_secs`) and come back from the database: a project still
//! decides transitions from its stored gate, and a channel loses, repeats and hurries nothing.

use std::time::Duration;

use sonar_slack::testing::fake_slack::{FakeSlack, Scripted};

use crate::helpers::*;

async fn spawn_idle_after_one_second(db: &TestDb, fake: &FakeSlack) -> TestApp {
    let mut settings = settings_for(db, fake);
    settings.actor_idle_secs = 1;
    TestApp::spawn_with(settings).await
}

/// Live (project, channel) actors, as `/readyz` reports them.
async fn actors(app: &TestApp) -> (u64, u64) {
    let body: serde_json::Value = app
        .client
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .expect("readyz")
        .json()
        .await
        .expect("readyz json");
    let count = |kind: &str| body["actors"][kind].as_u64().expect("actor count");
    (count("projects"), count("channels"))
}

/// Waits until every actor has been evicted (a condition, not a fixed sleep).
async fn all_evicted(app: &TestApp) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let live = actors(app).await;
        if live == (0, 0) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "actors still alive: {live:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn an_evicted_project_reloads_its_gate_and_still_decides() {
    for db in databases().await {
        let fake = fake_slack();
        let app = spawn_idle_after_one_second(&db, &fake).await;
        app.setup(&fake, &["C0AAA"]).await;
        assert_eq!(app.decision(&at(PASSED, 0)).await, "first_status");
        assert_eq!(actors(&app).await.0, 1);
        all_evicted(&app).await;
        assert_eq!(
            app.decision(&at(FAILED, 10)).await,
            "notified",
            "passed was reloaded"
        );
        all_evicted(&app).await;
        assert_eq!(
            app.decision(&at(FAILED, 5)).await,
            "stale",
            "the order was reloaded"
        );
        assert_eq!(app.decision(&at(FAILED, 10)).await, "duplicate");
        all_evicted(&app).await;
        assert_eq!(app.decision(&at(FAILED, 15)).await, "unchanged");
        all_evicted(&app).await;
        assert_eq!(app.decision(&at(PASSED, 20)).await, "notified");
        let messages = fake.wait_for_messages(2, WAIT).await.expect("two posts");
        assert!(
            messages[1].text.contains("after failing for 10 min"),
            "when it started failing was reloaded too: {}",
            messages[1].text
        );
        assert_eq!(messages.len(), 2);
        assert_never_rate_limited(&fake);
        app.crash().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn an_evicted_channel_neither_loses_nor_repeats_and_keeps_its_pace() {
    for db in databases().await {
        let fake = fake_slack();
        let app = spawn_idle_after_one_second(&db, &fake).await;
        app.setup(&fake, &["C0AAA"]).await;
        assert_eq!(app.decision(&at(PASSED, 0)).await, "first_status");
        let mut minute = 0;
        for round in 0..3 {
            // Three transitions at once: queued in the channel actor, paced one a second.
            for body in [FAILED, PASSED, FAILED] {
                minute += 4;
                assert_eq!(app.decision(&at(body, minute)).await, "notified");
            }
            let posted = fake.wait_for_messages(3 * (round + 1), WAIT).await;
            assert!(posted.is_ok(), "{posted:?}");
            all_evicted(&app).await;
            // The next round starts with a fresh channel actor, flipping the gate back first.
            minute += 4;
            assert_eq!(app.decision(&at(PASSED, minute)).await, "notified");
            fake.wait_for_messages(3 * (round + 1) + 1, WAIT)
                .await
                .expect("the post of a fresh channel actor");
            all_evicted(&app).await;
        }
        let messages = fake.messages();
        assert_eq!(messages.len(), 12, "each transition posted once");
        for pair in messages.windows(2) {
            let gap = pair[1].received_at - pair[0].received_at;
            assert!(
                gap >= chrono::Duration::milliseconds(900),
                "posts {gap} apart"
            );
        }
        let kinds: Vec<bool> = messages
            .iter()
            .map(|m| m.text.contains("passed again"))
            .collect();
        let expected = [false, true, false, true].repeat(3);
        assert_eq!(kinds, expected, "in transition order");
        let settled = app.settled().await;
        assert!(
            settled
                .iter()
                .all(|d| d.status == "sent" && d.attempts == 1),
            "{settled:?}"
        );
        assert_never_rate_limited(&fake);
        app.crash().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_channel_waiting_out_a_429_is_not_evicted() {
    for db in databases().await {
        let fake = fake_slack();
        let app = spawn_idle_after_one_second(&db, &fake).await;
        app.setup(&fake, &["C0AAA"]).await;
        fake.script(
            "C0AAA",
            [Scripted::RateLimited {
                retry_after: Some("3".into()),
            }],
        );
        assert_eq!(app.decision(&at(PASSED, 0)).await, "first_status");
        assert_eq!(app.decision(&at(FAILED, 10)).await, "notified");
        let deadline = tokio::time::Instant::now() + WAIT;
        while fake.attempts().is_empty() {
            assert!(tokio::time::Instant::now() < deadline, "no post was tried");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // Three seconds of waiting, longer than the idle time: the actor must stay.
        while fake.messages().is_empty() {
            assert_eq!(actors(&app).await.1, 1, "evicted while waiting out a 429");
            assert!(tokio::time::Instant::now() < deadline, "never delivered");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        all_evicted(&app).await;
        let statuses: Vec<u16> = fake.attempts().iter().map(|a| a.status).collect();
        assert_eq!(statuses, [429, 200]);
        let settled = app.settled().await;
        assert_eq!(
            (settled[0].status.as_str(), settled[0].attempts),
            ("sent", 2)
        );
        app.crash().await;
        db.cleanup().await;
    }
}
