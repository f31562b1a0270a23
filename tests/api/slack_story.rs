//! The whole Slack-app story over real HTTP with signed requests and the fakes: install, connect
//! and link, subscribe (allowed and denied), list, a failing gate posted to the channel,
//! unsubscribe, and `app_uninstalled` stopping delivery. Shared by the in-process test (SQLite and
//! PostgreSQL) and the log-capture test that runs the real binary.

use entity::{delivery, project_state, subscription, user_link, workspace};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

use super::helpers::WAIT;
use super::slack_world::*;

/// Returns the one-time linking URL it used (a secret of its own).
pub async fn story(w: &World<'_>) -> String {
    let slack = SlackSide::new(&w.base);
    let fakes = w.fakes;
    fakes
        .slack
        .set_redirect_uri(&format!("{}/slack/oauth/callback", w.base));

    // An admin installs the app.
    let (status, page) = install(&w.base, "code-install-1").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("installed"), "{page}");
    let ws = workspace::Entity::find_by_id(APP_TEAM.to_owned())
        .one(w.db)
        .await
        .expect("db")
        .expect("the workspace is stored");
    assert_eq!(ws.status, "active");
    assert_eq!(ws.team_name.as_deref(), Some("Acme"));
    assert_eq!(ws.bot_user_id.as_deref(), Some(BOT_USER));
    assert_eq!(ws.installed_by.as_deref(), Some(ALICE));
    assert!(ws.bot_token_sealed.starts_with("v2:"));
    assert!(!ws.bot_token_sealed.contains(BOT_TOKEN));
    let oauth = fakes.slack.oauth_calls();
    assert_eq!(oauth.len(), 1, "{oauth:?}");
    assert!(
        oauth[0].basic_auth,
        "the code is exchanged with HTTP Basic client auth"
    );
    assert_eq!(oauth[0].error, None);

    // Alice links her SonarQube account.
    let reply_to = fakes.slack.response_url("alice");
    let (status, answer) = slack.command(ALICE, CHANNEL, "connect", &reply_to).await;
    assert_eq!(status, 200);
    assert_eq!(answer["response_type"], "ephemeral", "{answer}");
    let link = link_in(&answer);
    assert!(link.starts_with(&format!("{}/connect/", w.base)), "{link}");
    let (status, page) = link_account(&link, w.connection_id, ALICE_SONAR_TOKEN).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("alice"), "{page}");
    assert!(
        !page.contains(ALICE_SONAR_TOKEN),
        "the token is never echoed"
    );
    let links = user_link::Entity::find().all(w.db).await.expect("db");
    assert_eq!(links.len(), 1);
    assert_eq!(links[0].sonar_login, "alice");
    assert!(!links[0].token_sealed.contains(ALICE_SONAR_TOKEN));
    let again = browser().get(&link).send().await.expect("link again");
    assert_eq!(again.status(), 410, "the link works once");

    // Alice subscribes the channel to a project she may Browse: said in the channel.
    let text = "subscribe \"acme:payments-api\"";
    let (status, answer) = slack.command(ALICE, CHANNEL, text, &reply_to).await;
    assert_eq!(status, 200);
    assert_eq!(answer["response_type"], "in_channel", "{answer}");
    let said = answer["text"].as_str().unwrap_or_default();
    assert!(
        said.contains(&format!("<@{ALICE}> subscribed this channel")),
        "{said}"
    );
    assert!(
        said.contains("Payments API") && said.contains("Passed"),
        "{said}"
    );
    let subs = subscription::Entity::find().all(w.db).await.expect("db");
    assert_eq!(subs.len(), 1);
    assert_eq!(subs[0].created_by.as_deref(), Some(ALICE));
    assert_eq!(subs[0].team_id, APP_TEAM);
    let seeded = project_state::Entity::find()
        .filter(project_state::Column::ProjectKey.eq(PROJECT_A))
        .one(w.db)
        .await
        .expect("db")
        .expect("the gate is seeded from SonarQube");
    assert_eq!(seeded.gate, "passed");

    // ...but not to one she may not Browse.
    let (status, answer) = slack
        .command(ALICE, CHANNEL, "subscribe acme:secret-sauce", &reply_to)
        .await;
    assert_eq!(status, 200);
    assert_eq!(answer["response_type"], "ephemeral", "{answer}");
    assert!(
        answer["text"]
            .as_str()
            .unwrap_or_default()
            .contains("Browse permission"),
        "{answer}"
    );
    assert_eq!(
        subscription::Entity::find()
            .all(w.db)
            .await
            .expect("db")
            .len(),
        1
    );

    // The channel's list.
    let (_, answer) = slack.command(ALICE, CHANNEL, "list", &reply_to).await;
    let listed = answer["text"].as_str().unwrap_or_default();
    assert!(
        listed.contains("`acme:payments-api`") && listed.contains("active"),
        "{listed}"
    );
    assert!(!listed.contains("secret-sauce"), "{listed}");

    // The gate breaks: the very first webhook after subscribing already notifies.
    let report = webhook(&w.base, &fakes.sonar.url(), PROJECT_A, true, 10).await;
    assert_eq!(report["decision"], "notified", "{report}");
    let messages = fakes
        .slack
        .wait_for_messages(1, WAIT)
        .await
        .expect("the channel hears about it");
    assert_eq!(messages[0].channel, CHANNEL);
    assert_eq!(
        messages[0].team_id, APP_TEAM,
        "posted with the installed bot token"
    );
    assert!(
        messages[0].text.contains("Quality gate failed"),
        "{}",
        messages[0].text
    );

    // Alice unsubscribes.
    let (_, answer) = slack
        .command(ALICE, CHANNEL, "unsubscribe acme:payments-api", &reply_to)
        .await;
    assert_eq!(answer["response_type"], "in_channel", "{answer}");
    assert!(
        answer["text"]
            .as_str()
            .unwrap_or_default()
            .contains("unsubscribed"),
        "{answer}"
    );
    assert!(
        subscription::Entity::find()
            .all(w.db)
            .await
            .expect("db")
            .is_empty()
    );

    // Subscribed again, then the app is uninstalled: delivery stops, the subscription stays.
    let (_, answer) = slack
        .command(ALICE, CHANNEL, "subscribe acme:payments-api", &reply_to)
        .await;
    assert_eq!(answer["response_type"], "in_channel", "{answer}");
    let uninstall = event_callback("Ev0UNINSTALL", json!({"type": "app_uninstalled"}));
    let (status, answer) = slack.event(&uninstall).await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("handled")),
        "{answer}"
    );
    let (status, answer) = slack.event(&uninstall).await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("duplicate")),
        "Slack's retry is only acknowledged"
    );
    let ws = workspace::Entity::find_by_id(APP_TEAM.to_owned())
        .one(w.db)
        .await
        .expect("db")
        .expect("kept");
    assert_eq!(ws.status, "disabled");
    assert_eq!(ws.bot_token_sealed, "", "the dead token is forgotten");
    assert_eq!(
        subscription::Entity::find()
            .all(w.db)
            .await
            .expect("db")
            .len(),
        1,
        "kept for a reinstall"
    );

    let report = webhook(&w.base, &fakes.sonar.url(), PROJECT_A, false, 11).await;
    assert_eq!(report["decision"], "notified", "{report}");
    eventually("the delivery fails visibly", || async {
        delivery::Entity::find()
            .filter(delivery::Column::Status.eq("failed"))
            .all(w.db)
            .await
            .expect("db")
            .iter()
            .any(|d| {
                d.last_error
                    .as_deref()
                    .unwrap_or_default()
                    .contains("uninstalled")
            })
    })
    .await;
    assert_eq!(fakes.slack.messages().len(), 1, "nothing more was posted");

    // Operators see it in numbers.
    let metrics = reqwest::get(format!("{}/metrics", w.base))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    for line in [
        "sonar_slack_installs_total 1",
        "sonar_slack_slash_commands_total 6",
        "sonar_slack_slack_events_total 1",
        "sonar_slack_slack_requests_refused_total 0",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
    link
}

/// Every secret the story uses: none may show up in logs.
pub fn story_secrets() -> Vec<&'static str> {
    vec![
        SIGNING_SECRET,
        CLIENT_SECRET,
        WEBHOOK_SECRET,
        BOT_TOKEN,
        ALICE_SONAR_TOKEN,
        "code-install-1",
    ]
}
