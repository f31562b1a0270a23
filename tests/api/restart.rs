//! Crash and restart: what was acknowledged is delivered once, by the next run.

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
        assert!(
            fake.attempts().iter().all(|a| a.status == 200),
            "the pace holds across the restart: {:?}",
            fake.attempts()
        );
        second.crash().await;
        db.cleanup().await;
    }
}
