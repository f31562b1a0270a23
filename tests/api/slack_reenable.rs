//! In Slack: `/sonarqube list` says why a subscription is disabled, and subscribing again
//! re-enables it.

use sonar_slack::store::deliveries;

use super::helpers::databases;
use super::slack_world::*;

#[tokio::test]
async fn list_shows_why_a_subscription_is_disabled_and_subscribe_re_enables_it() {
    for db in databases().await {
        let fakes = Fakes::start();
        let (app, conn) = spawn(&db, &fakes).await;
        let slack = installed_and_linked(&app, &fakes, conn).await;
        let (_, answer) = slack
            .command(ALICE, CHANNEL, "subscribe acme:payments-api", "")
            .await;
        assert_eq!(answer["response_type"], "in_channel", "{answer}");
        // What a channel_not_found from Slack does to the route.
        deliveries::disable_route(
            &app.db,
            APP_TEAM,
            CHANNEL,
            "Slack refused the channel (not_in_channel): invite the app to the channel",
        )
        .await
        .expect("disable");
        let (_, answer) = slack.command(ALICE, CHANNEL, "list", "").await;
        let t = text(&answer);
        assert!(
            t.contains("`acme:payments-api`")
                && t.contains("*disabled*: Slack refused the channel (not_in_channel)"),
            "{t}"
        );
        let (_, answer) = slack
            .command(ALICE, CHANNEL, "subscribe acme:payments-api", "")
            .await;
        assert_eq!(answer["response_type"], "in_channel", "{answer}");
        let subs = app.subscriptions().await;
        assert_eq!(subs.len(), 1, "the same subscription, not a second one");
        assert_eq!(
            (subs[0].status.as_str(), subs[0].disabled_reason.as_deref()),
            ("active", None)
        );
        let (_, answer) = slack.command(ALICE, CHANNEL, "list", "").await;
        let t = text(&answer);
        assert!(t.contains("active") && !t.contains("disabled"), "{t}");
        let report = webhook(&app.base, &fakes.sonar.url(), PROJECT_A, true, 30).await;
        assert_eq!(report["channels"], 1, "{report}");
        finish(app, fakes, db).await;
    }
}
