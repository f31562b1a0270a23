//! Several instances on one database: each channel has one sender at a time, messages keep their
//! order, nothing is posted twice, and a crashed instance's channels are taken over.

use crate::helpers::*;

/// Settings for a named instance that sweeps every second and holds leases for two.
fn instance(
    name: &str,
    db: &TestDb,
    fake: &sonar_slack::testing::fake_slack::FakeSlack,
) -> sonar_slack::config::Settings {
    let mut s = settings_for(db, fake);
    s.instance_id = Some(name.into());
    s.delivery_sweep_secs = 1;
    s.delivery_lease_secs = 2;
    s
}

#[tokio::test]
async fn two_instances_deliver_each_message_once_and_in_order() {
    for db in databases().await {
        let fake = fake_slack();
        let a = TestApp::spawn_with(instance("a", &db, &fake)).await;
        let b = TestApp::spawn_with(instance("b", &db, &fake)).await;
        a.setup(&fake, &["C0AAA", "C0BBB"]).await;
        // Alternate instances, so each sees a stale cached state half of the time.
        assert_eq!(a.decision(&at(PASSED, 0)).await, "first_status");
        assert_eq!(b.decision(&at(FAILED, 10)).await, "notified");
        assert_eq!(a.decision(&at(PASSED, 20)).await, "notified");
        assert_eq!(b.decision(&at(FAILED, 30)).await, "notified");
        assert_eq!(a.decision(&at(FAILED, 30)).await, "duplicate");

        let messages = fake.wait_for_messages(6, WAIT).await.expect("six posts");
        a.settled().await;
        for channel in ["C0AAA", "C0BBB"] {
            let got: Vec<bool> = fake
                .messages_for(channel)
                .iter()
                .map(|m| m.text.contains("passed again"))
                .collect();
            assert_eq!(
                got,
                [false, true, false],
                "{channel} on {}: in transition order, once each",
                db.kind
            );
        }
        assert_eq!(messages.len(), 6);
        assert_never_rate_limited(&fake);
        a.crash().await;
        b.crash().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_crashed_instances_channels_are_taken_over() {
    for db in databases().await {
        let fake = fake_slack();
        // Instance A cannot reach Slack; it takes the channel's lease and then dies.
        let mut dead_end = instance("a", &db, &fake);
        dead_end.slack_api_url = "http://127.0.0.1:1/api".into();
        let a = TestApp::spawn_with(dead_end).await;
        a.setup(&fake, &["C0AAA"]).await;
        assert_eq!(a.decision(&at(PASSED, 0)).await, "first_status");
        assert_eq!(a.decision(&at(FAILED, 10)).await, "notified");
        a.crash().await;
        // Instance B sweeps the pending delivery once A's lease has run out.
        let b = TestApp::spawn_with(instance("b", &db, &fake)).await;
        fake.wait_for_messages(1, WAIT).await.expect("taken over");
        let settled = b.settled().await;
        assert_eq!(settled[0].status, "sent");
        assert_eq!(fake.messages().len(), 1);
        b.crash().await;
        db.cleanup().await;
    }
}
