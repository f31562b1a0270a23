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
        app.request_out().await;
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
        next.request_out().await;
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
        last.crash().await;
        db.cleanup().await;
    }
}
