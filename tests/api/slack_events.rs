//! Lifecycle events: url_verification, revoked tokens, uninstall and reinstall.

use entity::user_link;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::json;
use sonar_slack::testing::fake_slack::InstallGrant;

use super::helpers::databases;
use super::slack_world::*;

#[tokio::test]
async fn lifecycle_events_url_verification_revoked_tokens_and_reinstall() {
    for db in databases().await {
        let fakes = Fakes::start();
        let (app, conn) = spawn(&db, &fakes).await;
        let slack = installed_and_linked(&app, &fakes, conn).await;
        let (status, answer) = slack
            .event(&json!({"type": "url_verification", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "token": "x"}))
            .await;
        assert_eq!(status, 200);
        assert_eq!(
            answer["challenge"],
            "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
        );
        let (status, _) = slack
            .event(&json!({"type": "url_verification", "token": "x"}))
            .await;
        assert_eq!(status, 400, "no challenge");
        let mut no_id = event_callback("", json!({"type": "app_uninstalled"}));
        assert_eq!(slack.event(&no_id).await.0, 400, "an empty event_id");
        no_id.as_object_mut().map(|o| o.remove("event_id"));
        assert_eq!(slack.event(&no_id).await.0, 400, "no event_id");
        assert_eq!(
            app_workspace(&app).await.status,
            "active",
            "nothing was done"
        );
        // The same event delivered ten times at once is handled once.
        let burst = event_callback(
            "Ev0BURST",
            json!({"type": "tokens_revoked", "tokens": {"oauth": [BOB], "bot": []}}),
        );
        let answers = futures_util::future::join_all((0..10).map(|_| slack.event(&burst))).await;
        let count = |outcome: &str| {
            answers
                .iter()
                .filter(|(s, a)| *s == 200 && a["outcome"] == outcome)
                .count()
        };
        assert_eq!(
            (count("handled"), count("duplicate")),
            (1, 9),
            "{answers:?}"
        );
        let (_, answer) = slack
            .command(ALICE, CHANNEL, "subscribe acme:payments-api", "")
            .await;
        assert_eq!(answer["response_type"], "in_channel", "{answer}");
        // Alice's user token revoked: her link goes, the app stays.
        let revoked = event_callback(
            "Ev0USERS",
            json!({"type": "tokens_revoked", "tokens": {"oauth": [ALICE], "bot": []}}),
        );
        assert_eq!(slack.event(&revoked).await.0, 200);
        assert_eq!(
            user_link::Entity::find().count(&app.db).await.expect("db"),
            0
        );
        assert_eq!(app_workspace(&app).await.status, "active");
        // The bot token revoked: as uninstalling.
        let revoked = event_callback(
            "Ev0BOT",
            json!({"type": "tokens_revoked", "tokens": {"oauth": [], "bot": [BOT_USER]}}),
        );
        assert_eq!(slack.event(&revoked).await.0, 200);
        let ws = app_workspace(&app).await;
        assert_eq!(ws.status, "disabled");
        assert!(ws.disabled_reason.unwrap_or_default().contains("revoked"));
        let (_, answer) = slack.command(ALICE, CHANNEL, "list", "").await;
        assert!(text(&answer).contains("disabled"), "{answer}");
        // Unknown events are acknowledged.
        let other = event_callback("Ev0OTHER", json!({"type": "channel_rename"}));
        assert_eq!(slack.event(&other).await.0, 200);
        // A reinstall restores delivery to the kept subscription.
        fakes.slack.add_install(
            "code-install-3",
            InstallGrant::team(APP_TEAM, "xoxb-reinstalled"),
        );
        let (status, _) = install(&app.base, "code-install-3").await;
        assert_eq!(status, 200);
        assert_eq!(app_workspace(&app).await.status, "active");
        let report = webhook(&app.base, &fakes.sonar.url(), PROJECT_A, true, 20).await;
        assert_eq!(report["channels"], 1, "{report}");
        fakes
            .slack
            .wait_for_messages(1, super::helpers::WAIT)
            .await
            .expect("delivered after the reinstall");
        finish(app, fakes, db).await;
    }
}
