//! Forged and replayed requests change nothing: every table's full contents are the same before
//! and after each of them, and a genuine request afterwards does change them (so the check can fail).

use sea_orm::{DatabaseConnection, EntityTrait};
use serde_json::{Value, json};
use sonar_slack::domain::signature::sonar_signature;
use sonar_slack::testing::slack_side;

use super::helpers::{FAILED, databases, edit};
use super::slack_world::*;

/// Every row of every table, as JSON, in a stable order.
async fn snapshot(db: &DatabaseConnection) -> Vec<(&'static str, Vec<String>)> {
    macro_rules! rows {
        ($($entity:ident),* $(,)?) => {
            vec![$((
                stringify!($entity),
                {
                    let mut rows: Vec<String> = entity::$entity::Entity::find()
                        .into_json()
                        .all(db)
                        .await
                        .expect("read table")
                        .iter()
                        .map(Value::to_string)
                        .collect();
                    rows.sort();
                    rows
                },
            )),*]
        };
    }
    rows!(
        channel_lease,
        connection,
        delivery,
        link_token,
        notification,
        oauth_state,
        project_state,
        slack_event,
        subscription,
        user_link,
        webhook_event,
        workspace,
    )
}

async fn post_webhook(base: &str, body: &[u8], signature: Option<String>) -> u16 {
    let mut req = reqwest::Client::new()
        .post(format!("{base}/webhooks/sonarqube"))
        .header("Content-Type", "application/json; charset=utf-8")
        .body(body.to_vec());
    if let Some(sig) = signature {
        req = req.header("X-Sonar-Webhook-HMAC-SHA256", sig);
    }
    req.send().await.expect("webhook").status().as_u16()
}

#[tokio::test]
async fn forged_and_replayed_requests_change_nothing_in_the_database() {
    for db in databases().await {
        let fakes = Fakes::start();
        let (app, conn) = spawn(&db, &fakes).await;
        let slack = installed_and_linked(&app, &fakes, conn).await;
        let (_, answer) = slack
            .command(ALICE, CHANNEL, "subscribe acme:payments-api", "")
            .await;
        assert_eq!(answer["response_type"], "in_channel", "{answer}");
        let report = webhook(&app.base, &fakes.sonar.url(), PROJECT_A, true, 10).await;
        assert_eq!(report["decision"], "notified", "{report}");
        fakes
            .slack
            .wait_for_messages(1, super::helpers::WAIT)
            .await
            .expect("posted");
        app.settled().await;
        let before = snapshot(&app.db).await;
        assert!(
            before.iter().filter(|(_, rows)| !rows.is_empty()).count() >= 8,
            "the tables hold something to protect: {before:?}"
        );

        // Webhooks: a recovery that would notify, if it were believed.
        let server = fakes.sonar.url();
        let recovery = |server_url: &str| {
            edit(super::helpers::PASSED, |v| {
                v["serverUrl"] = server_url.into();
                v["project"]["key"] = PROJECT_A.into();
                v["analysedAt"] = "2024-05-01T10:20:00+0000".into();
                v["changedAt"] = "2024-05-01T10:20:00+0000".into();
            })
        };
        let sign = |body: &[u8], secret: &str| Some(sonar_signature(secret.as_bytes(), body));
        let unknown = recovery("https://evil.example.com");
        let genuine = recovery(&server);
        let no_key = edit(FAILED, |v| {
            v["serverUrl"] = server.clone().into();
            v["project"].as_object_mut().map(|p| p.remove("key"));
        });
        let webhooks: Vec<(&str, &[u8], Option<String>, u16)> = vec![
            (
                "unknown serverUrl",
                &unknown,
                sign(&unknown, WEBHOOK_SECRET),
                403,
            ),
            (
                "bad signature",
                &genuine,
                sign(&genuine, "not-the-secret"),
                401,
            ),
            ("no signature", &genuine, None, 401),
            (
                "signature of another body",
                &genuine,
                sign(&unknown, WEBHOOK_SECRET),
                401,
            ),
            ("not JSON", b"{\"serverUrl\": oops", None, 400),
            (
                "no project key",
                &no_key,
                sign(&no_key, WEBHOOK_SECRET),
                400,
            ),
        ];
        for (what, body, signature, expected) in webhooks {
            assert_eq!(
                post_webhook(&app.base, body, signature).await,
                expected,
                "{what}"
            );
            assert_eq!(
                snapshot(&app.db).await,
                before,
                "a webhook with {what} changed the database"
            );
        }

        // Slack: an unsubscribe and an uninstall, signed with the wrong secret or replayed late.
        let form = "application/x-www-form-urlencoded";
        let unsubscribe =
            SlackSide::command_body(ALICE, CHANNEL, "unsubscribe acme:payments-api", "");
        let uninstall = serde_json::to_vec(&event_callback(
            "Ev0FORGED",
            json!({"type": "app_uninstalled"}),
        ))
        .expect("json");
        let forger = slack_side::SlackSide::new(&app.base, "not-the-signing-secret", APP_TEAM);
        for (path, body, content_type) in [
            ("/slack/commands", &unsubscribe, form),
            ("/slack/events", &uninstall, "application/json"),
        ] {
            let res = forger
                .signed(path, body, content_type, 0)
                .await
                .expect("request");
            assert_eq!(res.status(), 401, "{path} with a bad signature");
            assert_eq!(
                snapshot(&app.db).await,
                before,
                "{path} with a bad signature changed the database"
            );
            for skew in [-301, -3600, 301] {
                let res = slack.signed(path, body, content_type, skew).await;
                assert_eq!(res.status(), 401, "{path} replayed {skew} s off");
                assert_eq!(
                    snapshot(&app.db).await,
                    before,
                    "{path} replayed {skew} s off changed the database"
                );
            }
        }

        // The same unsubscribe, genuine and on time, does change it: the comparison can fail.
        let res = slack.signed("/slack/commands", &unsubscribe, form, 0).await;
        assert_eq!(res.status(), 200);
        assert_ne!(
            snapshot(&app.db).await,
            before,
            "a genuine command changes the database"
        );
        finish(app, fakes, db).await;
    }
}
