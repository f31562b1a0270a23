//! The Slack app over real HTTP: the whole story on SQLite and PostgreSQL, and request signatures.

use sea_orm::{EntityTrait, PaginatorTrait};

use super::helpers::databases;
use super::slack_story::story;
use super::slack_world::*;

#[tokio::test]
async fn the_whole_story_install_link_subscribe_notify_unsubscribe_uninstall() {
    for db in databases().await {
        let fakes = Fakes::start();
        let (app, conn) = spawn(&db, &fakes).await;
        story(&World {
            base: app.base.clone(),
            db: &app.db,
            fakes: &fakes,
            connection_id: conn,
        })
        .await;
        finish(app, fakes, db).await;
    }
}

#[tokio::test]
async fn requests_with_a_bad_missing_or_stale_signature_get_401_and_do_nothing() {
    for db in databases().await {
        let fakes = Fakes::start();
        let (app, _) = spawn(&db, &fakes).await;
        fakes
            .slack
            .set_redirect_uri(&format!("{}/slack/oauth/callback", app.base));
        assert_eq!(install(&app.base, "code-install-1").await.0, 200);
        let slack = SlackSide::new(&app.base);
        let body = SlackSide::command_body(ALICE, CHANNEL, "connect", "");
        let form = "application/x-www-form-urlencoded";
        for skew in [-301, 301] {
            let res = slack.signed("/slack/commands", &body, form, skew).await;
            assert_eq!(res.status(), 401, "a {skew} s old request is refused");
            let json: serde_json::Value = res.json().await.expect("json");
            assert!(text_of(&json).contains("300 s"), "{json}");
        }
        for skew in [-300, 300] {
            let res = slack.signed("/slack/commands", &body, form, skew).await;
            assert_eq!(res.status(), 200, "{skew} s is inside the window");
        }
        let ts = chrono::Utc::now().timestamp().to_string();
        let forged = slack
            .client
            .post(format!("{}/slack/commands", app.base))
            .header("X-Slack-Request-Timestamp", &ts)
            .header(
                "X-Slack-Signature",
                "v0=0000000000000000000000000000000000000000000000000000000000000000",
            )
            .body(body.clone())
            .send()
            .await
            .expect("post");
        assert_eq!(forged.status(), 401);
        let unsigned = slack
            .client
            .post(format!("{}/slack/events", app.base))
            .body(r#"{"type":"url_verification","challenge":"x"}"#)
            .send()
            .await
            .expect("post");
        assert_eq!(unsigned.status(), 401);
        // Only the two in-window commands issued links.
        assert_eq!(
            entity::link_token::Entity::find()
                .count(&app.db)
                .await
                .expect("db"),
            2
        );
        finish(app, fakes, db).await;
    }
}

fn text_of(json: &serde_json::Value) -> String {
    json["message"].as_str().unwrap_or_default().to_owned()
}
