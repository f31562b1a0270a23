//! Crash and restart: what was acknowledged is delivered once, by the next run.

use sonar_slack::testing::fake_slack::Scripted;

use crate::helpers::*;

#[tokio::test]
async fn a_restart_delivers_what_was_pending_exactly_once() {
    for db in databases().await {
        // First run: Slack is unreachable (nothing listens on port 1), so deliveries stay pending.
        let fake = fake_slack();
        let mut settings = settings_for(&db, &fake);
        settings.slack_api_url = "http://127.0.0.1:1/api".into();
        let first = TestApp::spawn_with(settings).await;
        first.setup(&fake, &["C0AAA", "C0BBB"]).await;
        assert_eq!(first.decision(&at(PASSED, 0)).await, "first_status");
        assert_eq!(first.decision(&at(FAILED, 10)).await, "notified");
        let pending = first.deliveries().await;
        assert_eq!(pending.len(), 2);
        assert!(pending.iter().all(|d| d.status == "pending"));
        first.crash().await;

        // Second run on the same database, Slack reachable: both go out, once.
        let second = TestApp::spawn(&db, &fake).await;
        let messages = fake
            .wait_for_messages(2, WAIT)
            .await
            .expect("resumed posts");
        assert_eq!(messages.len(), 2);
        let settled = second.settled().await;
        assert!(settled.iter().all(|d| d.status == "sent"), "{settled:?}");
        // The state survived too: the same failing analysis is a duplicate, a recovery notifies.
        assert_eq!(second.decision(&at(FAILED, 10)).await, "duplicate");
        assert_eq!(second.decision(&at(PASSED, 20)).await, "notified");
        fake.wait_for_messages(4, WAIT)
            .await
            .expect("recovery posts");
        second.settled().await;
        assert_eq!(fake.messages().len(), 4, "nothing posted twice");
        assert_never_rate_limited(&fake);
        second.crash().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_stop_waits_for_the_request_out_and_a_crash_counts_it() {
    for db in databases().await {
        let fake = fake_slack();
        // SIGTERM while Slack is slow to answer: the stop waits, the answer is recorded, and the
        // next run does not post again.
        let app = TestApp::spawn(&db, &fake).await;
        app.setup(&fake, &["C0AAA"]).await;
        fake.script(
            "C0AAA",
            [Scripted::Slow {
                delay: std::time::Duration::from_millis(1500),
            }],
        );
        assert_eq!(app.decision(&at(PASSED, 0)).await, "first_status");
        assert_eq!(app.decision(&at(FAILED, 10)).await, "notified");
        app.request_out(&fake, 1).await;
        app.stop().await;
        let next = TestApp::spawn(&db, &fake).await;
        let rows = next.deliveries().await;
        assert_eq!(
            (rows[0].status.as_str(), rows[0].ambiguous_attempts),
            ("sent", 0),
            "{rows:?}"
        );

        // A crash while Slack is slow: Slack may well post it, so the next run sends it again
        // and counts it as ambiguous: visible, never silent.
        fake.script(
            "C0AAA",
            [Scripted::Slow {
                delay: std::time::Duration::from_millis(1500),
            }],
        );
        assert_eq!(next.decision(&at(PASSED, 20)).await, "notified");
        next.request_out(&fake, 2).await;
        next.crash().await;
        let last = TestApp::spawn(&db, &fake).await;
        let rows = last.settled().await;
        assert_eq!(
            (rows[1].status.as_str(), rows[1].ambiguous_attempts),
            ("sent", 1),
            "{rows:?}"
        );
        assert!(
            rows[1]
                .last_error
                .as_deref()
                .unwrap_or_default()
                .contains("in flight"),
            "{rows:?}"
        );
        // And it shows where operators alert: the ambiguous counter of the process that resent it.
        last.assert_metric("sonar_slack_slack_ambiguous_failures_total 1")
            .await;
        last.crash().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn the_ambiguous_bound_holds_across_restarts() {
    for db in databases().await {
        let fake = fake_slack();
        let mut settings = settings_for(&db, &fake);
        settings.retry_max_ambiguous = 2;
        // A 500 (may have posted: 1), then a crash while the retry is out (2 = the bound).
        let app = TestApp::spawn_with(settings.clone()).await;
        app.setup(&fake, &["C0AAA"]).await;
        fake.script(
            "C0AAA",
            [
                Scripted::Status(500),
                Scripted::Slow {
                    delay: std::time::Duration::from_millis(1500),
                },
            ],
        );
        assert_eq!(app.decision(&at(PASSED, 0)).await, "first_status");
        assert_eq!(app.decision(&at(FAILED, 10)).await, "notified");
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let out = app.deliveries().await;
            // The retry has reached Slack (not only its backoff or pacing wait).
            if out[0].in_flight && out[0].attempts == 2 && fake.posts_arrived() >= 2 {
                assert_eq!(out[0].ambiguous_attempts, 1, "{out:?}");
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "{out:?}");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        app.crash().await;

        // The next start does not send it a third time: it fails it, with the reason, and counts it.
        let next = TestApp::spawn_with(settings).await;
        let rows = next.settled().await;
        assert_eq!(
            (
                rows[0].status.as_str(),
                rows[0].ambiguous_attempts,
                rows[0].attempts
            ),
            ("failed", 2, 2),
            "{rows:?}"
        );
        assert_eq!(
            rows[0].last_error.as_deref(),
            Some(
                "gave up after 2 attempts that may have posted; last: the service stopped while a request to Slack was in flight"
            )
        );
        next.assert_metric("sonar_slack_deliveries_total{outcome=\"failed\"} 1")
            .await;
        // Not sent a third time (a resend would be accepted: the script is used up). The fake
        // drops the slow request when the crashed client goes away, so Slack saw nothing.
        assert!(fake.messages().is_empty(), "{:?}", fake.messages());
        assert_eq!(fake.attempts().len(), 1, "{:?}", fake.attempts());
        next.crash().await;
        db.cleanup().await;
    }
}
