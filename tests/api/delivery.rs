//! Delivery to Slack: pacing and order, 429s, and what each class of Slack error does.

use sonar_slack::testing::fake_slack::Scripted;

use crate::helpers::*;

/// Passed at minute 0, then failing at 10: one transition.
async fn break_the_gate(app: &TestApp) {
    assert_eq!(app.decision(&at(PASSED, 0)).await, "first_status");
    assert_eq!(app.decision(&at(FAILED, 10)).await, "notified");
}

#[tokio::test]
async fn messages_to_one_channel_leave_in_order_and_within_the_pace() {
    for db in databases().await {
        let fake = fake_slack();
        let app = TestApp::spawn(&db, &fake).await;
        app.setup(&fake, &["C0AAA"]).await;
        assert_eq!(app.decision(&at(PASSED, 0)).await, "first_status");
        for (minute, body) in [(10, FAILED), (20, PASSED), (30, FAILED), (40, PASSED)] {
            assert_eq!(app.decision(&at(body, minute)).await, "notified");
        }
        let messages = fake.wait_for_messages(4, WAIT).await.expect("four posts");
        let kinds: Vec<bool> = messages
            .iter()
            .map(|m| m.text.contains("passed again"))
            .collect();
        assert_eq!(kinds, [false, true, false, true], "in transition order");
        assert!(
            messages[1].text.contains("after failing for 10 min"),
            "{}",
            messages[1].text
        );
        for pair in messages.windows(2) {
            let gap = pair[1].received_at - pair[0].received_at;
            assert!(
                gap >= chrono::Duration::milliseconds(900),
                "posts {gap} apart"
            );
        }
        assert_never_rate_limited(&fake);
        app.crash().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_429_is_waited_out_and_delivers_once() {
    for db in databases().await {
        let fake = fake_slack();
        let app = TestApp::spawn(&db, &fake).await;
        app.setup(&fake, &["C0AAA"]).await;
        fake.script(
            "C0AAA",
            [
                Scripted::RateLimited {
                    retry_after: Some("1".into()),
                },
                Scripted::RateLimited {
                    retry_after: Some("soon".into()),
                },
                Scripted::RateLimited { retry_after: None },
            ],
        );
        break_the_gate(&app).await;
        let settled = app.settled().await;
        assert_eq!(settled[0].status, "sent", "{settled:?}");
        assert_eq!(settled[0].attempts, 4);
        assert_eq!(settled[0].ambiguous_attempts, 0, "a 429 is not a failure");
        assert_eq!(fake.messages().len(), 1, "no loss, no duplicate");
        let statuses: Vec<u16> = fake.attempts().iter().map(|a| a.status).collect();
        assert_eq!(statuses, [429, 429, 429, 200]);
        app.crash().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn channel_not_found_disables_the_subscription_with_the_reason() {
    for db in databases().await {
        let fake = fake_slack();
        let app = TestApp::spawn(&db, &fake).await;
        app.setup(&fake, &["C0GONE", "C0AAA"]).await;
        fake.script("C0GONE", [Scripted::Error("channel_not_found".into())]);
        break_the_gate(&app).await;
        let settled = app.settled().await;
        let gone = settled
            .iter()
            .find(|d| d.channel_id == "C0GONE")
            .expect("delivery");
        assert_eq!(gone.status, "failed");
        assert!(
            gone.last_error
                .as_deref()
                .unwrap_or_default()
                .contains("channel_not_found")
        );
        let subs = app.subscriptions().await;
        let sub = subs.iter().find(|s| s.channel_id == "C0GONE").expect("sub");
        assert_eq!(sub.status, "disabled");
        assert!(
            sub.disabled_reason
                .as_deref()
                .unwrap_or_default()
                .contains("channel_not_found")
        );
        assert_eq!(
            subs.iter()
                .find(|s| s.channel_id == "C0AAA")
                .map(|s| s.status.as_str()),
            Some("active")
        );
        assert_eq!(
            fake.messages_for("C0AAA").len(),
            1,
            "the other channel still gets its message"
        );
        // The next transition no longer targets the disabled channel.
        assert_eq!(app.decision(&at(PASSED, 20)).await, "notified");
        let settled = app.settled().await;
        assert_eq!(
            settled.iter().filter(|d| d.channel_id == "C0GONE").count(),
            1
        );
        app.crash().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_revoked_token_disables_the_workspace() {
    for db in databases().await {
        let fake = fake_slack();
        let app = TestApp::spawn(&db, &fake).await;
        app.setup(&fake, &["C0AAA", "C0BBB"]).await;
        fake.revoke_token(TOKEN);
        break_the_gate(&app).await;
        let settled = app.settled().await;
        assert!(settled.iter().all(|d| d.status == "failed"), "{settled:?}");
        let ws = app.workspace().await;
        assert_eq!(ws.status, "disabled");
        assert!(
            ws.disabled_reason
                .as_deref()
                .unwrap_or_default()
                .contains("token_revoked")
        );
        assert!(!ws.bot_token_sealed.contains(TOKEN), "sealed at rest");
        // Both channels may have had a request in flight when the first refusal came back; after
        // that the token is not used again: later messages fail visibly, without touching Slack.
        let attempts = fake.attempts().len();
        assert!(attempts <= 2, "{attempts} attempts");
        assert_eq!(app.decision(&at(PASSED, 20)).await, "notified");
        let settled = app.settled().await;
        assert_eq!(settled.len(), 4);
        assert!(
            settled[2..].iter().all(|d| d.status == "failed"
                && d.last_error
                    .as_deref()
                    .unwrap_or_default()
                    .contains("is disabled")),
            "{settled:?}"
        );
        assert_eq!(fake.attempts().len(), attempts);
        app.crash().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn server_errors_are_retried_with_backoff_and_counted() {
    for db in databases().await {
        let fake = fake_slack();
        let app = TestApp::spawn(&db, &fake).await;
        app.setup(&fake, &["C0AAA"]).await;
        fake.script(
            "C0AAA",
            [
                Scripted::Status(503),
                Scripted::Error("internal_error".into()),
            ],
        );
        break_the_gate(&app).await;
        let settled = app.settled().await;
        assert_eq!(settled[0].status, "sent");
        assert_eq!(
            settled[0].ambiguous_attempts, 2,
            "failures that may have posted are counted"
        );
        assert_eq!(fake.messages().len(), 1);
        app.crash().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn endless_server_errors_end_in_a_recorded_failure() {
    for db in databases().await {
        let fake = fake_slack();
        let mut settings = settings_for(&db, &fake);
        settings.retry_max_ambiguous = 3;
        let app = TestApp::spawn_with(settings).await;
        app.setup(&fake, &["C0AAA"]).await;
        fake.script("C0AAA", (0..10).map(|_| Scripted::Status(500)));
        break_the_gate(&app).await;
        let settled = app.settled().await;
        assert_eq!(settled[0].status, "failed");
        assert_eq!(settled[0].ambiguous_attempts, 3);
        assert!(
            settled[0]
                .last_error
                .as_deref()
                .unwrap_or_default()
                .contains("gave up after 3")
        );
        app.crash().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn refused_blocks_fall_back_to_plain_text_once() {
    for db in databases().await {
        let fake = fake_slack();
        let app = TestApp::spawn(&db, &fake).await;
        app.setup(&fake, &["C0AAA"]).await;
        fake.script("C0AAA", [Scripted::Error("invalid_blocks".into())]);
        break_the_gate(&app).await;
        let settled = app.settled().await;
        assert_eq!(settled[0].status, "sent");
        let messages = fake.messages();
        assert_eq!(messages.len(), 1);
        assert!(
            messages[0].blocks.is_null(),
            "the retry leaves the blocks out"
        );
        assert!(messages[0].text.contains("Quality gate failed"));
        app.crash().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn messages_wait_for_a_workspace_that_is_not_added_yet() {
    for db in databases().await {
        let fake = fake_slack();
        let mut settings = settings_for(&db, &fake);
        settings.delivery_sweep_secs = 1;
        let app = TestApp::spawn_with(settings).await;
        fake.add_token(TOKEN, TEAM);
        let conn = app.add_connection(SERVER, Some(SECRET)).await;
        app.subscribe(conn, "C0AAA", PROJECT).await;
        break_the_gate(&app).await;
        // Until the workspace exists the delivery stays pending, saying why.
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let all = app.deliveries().await;
            assert_eq!(all.len(), 1, "the transition is kept");
            assert_eq!(all[0].status, "pending");
            if all[0]
                .last_error
                .as_deref()
                .unwrap_or_default()
                .contains("not installed yet")
            {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "{all:?}");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        sonar_slack::store::catalog::upsert_workspace(
            &app.db,
            &team(),
            None,
            app.sealer
                .seal(TOKEN, &sonar_slack::store::catalog::bot_token_context(TEAM)),
        )
        .await
        .expect("workspace");
        fake.wait_for_messages(1, WAIT)
            .await
            .expect("delivered once the workspace exists");
        assert_eq!(app.settled().await[0].status, "sent");
        app.crash().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn removing_a_subscription_fails_what_was_pending_for_it() {
    for db in databases().await {
        let fake = fake_slack();
        let app = TestApp::spawn(&db, &fake).await;
        let conn = app.add_connection(SERVER, Some(SECRET)).await;
        // No workspace yet, so the delivery waits.
        let sub = app.subscribe(conn, "C0AAA", PROJECT).await;
        break_the_gate(&app).await;
        assert_eq!(app.deliveries().await[0].status, "pending");
        assert!(
            sonar_slack::store::catalog::remove_subscription(&app.db, sub)
                .await
                .expect("remove")
        );
        let rows = app.deliveries().await;
        assert_eq!(rows[0].status, "failed");
        assert_eq!(
            rows[0].last_error.as_deref(),
            Some("the subscription was removed")
        );
        assert!(fake.attempts().is_empty());
        app.crash().await;
        db.cleanup().await;
    }
}
