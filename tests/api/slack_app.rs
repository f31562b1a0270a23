//! The Slack app over real HTTP: the whole story on SQLite and PostgreSQL, then each way it can
//! go wrong (bad signatures, failed installs, linking mistakes, permissions, slow or broken
//! SonarQube, private channels, lifecycle events, token rotation).

use std::time::Duration;

use entity::{oauth_state, subscription, user_link, workspace};
use reqwest::header::COOKIE;
use sea_orm::{EntityTrait, PaginatorTrait};
use secrecy::SecretString;
use serde_json::json;
use sonar_slack::config::Settings;
use sonar_slack::domain::types::{ChannelId, ProjectKey, TeamId};
use sonar_slack::store::catalog;
use sonar_slack::testing::fake_slack::{ChannelInfo, InstallGrant};
use sonar_slack::testing::fake_sonar::FakeSonar;

use super::helpers::{TestApp, TestDb, databases, settings_for};
use super::slack_story::story;
use super::slack_world::*;

/// The service configured as a Slack app against the fakes, with one SonarQube connection.
async fn spawn(db: &TestDb, fakes: &Fakes) -> (TestApp, i64) {
    spawn_tuned(db, fakes, |_| {}).await
}

async fn spawn_tuned(
    db: &TestDb,
    fakes: &Fakes,
    tune: impl FnOnce(&mut Settings),
) -> (TestApp, i64) {
    let mut s = settings_for(db, &fakes.slack);
    s.slack_client_id = Some(CLIENT_ID.into());
    s.slack_client_secret = Some(SecretString::from(CLIENT_SECRET));
    s.slack_signing_secret = Some(SecretString::from(SIGNING_SECRET));
    s.slack_authorize_url = format!("{}/oauth/v2/authorize", fakes.slack.api_url());
    tune(&mut s);
    let app = TestApp::spawn_with(s).await;
    let conn = app
        .add_connection(&fakes.sonar.url(), Some(WEBHOOK_SECRET))
        .await;
    (app, conn)
}

/// Installs and links Alice; returns the Slack side.
async fn installed_and_linked(app: &TestApp, fakes: &Fakes, conn: i64) -> SlackSide {
    fakes
        .slack
        .set_redirect_uri(&format!("{}/slack/oauth/callback", app.base));
    let (status, page) = install(&app.base, "code-install-1").await;
    assert_eq!(status, 200, "{page}");
    let slack = SlackSide::new(&app.base);
    let (_, answer) = slack.command(ALICE, CHANNEL, "connect", "").await;
    let (status, page) = link_account(&link_in(&answer), conn, ALICE_SONAR_TOKEN).await;
    assert_eq!(status, 200, "{page}");
    slack
}

fn text(answer: &serde_json::Value) -> String {
    answer["text"].as_str().unwrap_or_default().to_owned()
}

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
        app.stop().await;
        fakes.stop();
        db.cleanup().await;
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
        app.stop().await;
        fakes.stop();
        db.cleanup().await;
    }
}

fn text_of(json: &serde_json::Value) -> String {
    json["message"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn failed_installs_show_a_page_and_store_nothing() {
    for db in databases().await {
        let fakes = Fakes::start();
        let (app, _) = spawn(&db, &fakes).await;
        fakes
            .slack
            .set_redirect_uri(&format!("{}/slack/oauth/callback", app.base));
        let b = browser();
        let start = |b: reqwest::Client| {
            let base = app.base.clone();
            async move {
                let res = b
                    .get(format!("{base}/slack/install"))
                    .send()
                    .await
                    .expect("install");
                let cookie = cookie_of(&res, "sonar_slack_install");
                let loc = res.headers()["location"].to_str().expect("loc").to_owned();
                let url = reqwest::Url::parse(&loc).expect("url");
                assert!(
                    url.query_pairs()
                        .any(|(k, v)| k == "scope" && v.contains("chat:write")),
                    "{loc}"
                );
                let state = url
                    .query_pairs()
                    .find(|(k, _)| k == "state")
                    .expect("state")
                    .1
                    .into_owned();
                (cookie, state)
            }
        };
        let callback = |q: Vec<(&'static str, String)>, cookie: Option<String>| {
            let (b, base) = (b.clone(), app.base.clone());
            async move {
                let mut req = b.get(format!("{base}/slack/oauth/callback")).query(&q);
                if let Some(c) = cookie {
                    req = req.header(COOKIE, c);
                }
                let res = req.send().await.expect("callback");
                (res.status().as_u16(), res.text().await.expect("page"))
            }
        };
        // Cancelled in Slack.
        let (cookie, state) = start(b.clone()).await;
        let (status, page) = callback(
            vec![("error", "access_denied".into()), ("state", state)],
            Some(cookie),
        )
        .await;
        assert_eq!(status, 400);
        assert!(
            page.contains("cancelled") && page.contains("Nothing was stored"),
            "{page}"
        );
        // A state never issued, and one without its browser cookie.
        let (status, page) = callback(
            vec![
                ("code", "code-install-1".into()),
                ("state", "forged".into()),
            ],
            None,
        )
        .await;
        assert_eq!(status, 400);
        assert!(page.contains("already used, or was not issued"), "{page}");
        let (_, state) = start(b.clone()).await;
        let (status, page) = callback(
            vec![("code", "code-install-1".into()), ("state", state.clone())],
            None,
        )
        .await;
        assert_eq!(status, 400);
        assert!(page.contains("another browser"), "{page}");
        // That state is used up even though it failed.
        let (status, _) = callback(
            vec![("code", "code-install-1".into()), ("state", state)],
            None,
        )
        .await;
        assert_eq!(status, 400);
        // Slack says ok:false.
        let (cookie, state) = start(b.clone()).await;
        let (status, page) = callback(
            vec![("code", "no-such-code".into()), ("state", state)],
            Some(cookie),
        )
        .await;
        assert_eq!(status, 502);
        assert!(
            page.contains("invalid_code") && page.contains("Nothing was stored"),
            "{page}"
        );
        // No state at all.
        let (status, _) = callback(vec![("code", "code-install-1".into())], None).await;
        assert_eq!(status, 400);
        assert_eq!(
            workspace::Entity::find().count(&app.db).await.expect("db"),
            0
        );
        assert_eq!(
            oauth_state::Entity::find()
                .count(&app.db)
                .await
                .expect("db"),
            0,
            "every state is single-use"
        );
        // And a good one, twice: the reinstall updates the workspace in place.
        let (status, _) = install(&app.base, "code-install-1").await;
        assert_eq!(status, 200);
        let mut grant = InstallGrant::team(APP_TEAM, "xoxb-second-token");
        grant.team_name = Some("Acme Renamed".into());
        fakes.slack.add_install("code-install-2", grant);
        let (status, _) = install(&app.base, "code-install-2").await;
        assert_eq!(status, 200);
        let all = workspace::Entity::find().all(&app.db).await.expect("db");
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].team_name.as_deref(), Some("Acme Renamed"));
        app.stop().await;
        fakes.stop();
        db.cleanup().await;
    }
}

#[tokio::test]
async fn the_linking_page_checks_the_token_its_form_and_its_link() {
    for db in databases().await {
        let fakes = Fakes::start();
        let (app, conn) = spawn(&db, &fakes).await;
        fakes
            .slack
            .set_redirect_uri(&format!("{}/slack/oauth/callback", app.base));
        install(&app.base, "code-install-1").await;
        let slack = SlackSide::new(&app.base);
        let (_, answer) = slack.command(BOB, CHANNEL, "connect", "").await;
        let link = link_in(&answer);
        // A wrong token: the form again, with SonarQube's verdict, and the link still works.
        let (status, page) = link_account(&link, conn, "squ_not_a_token").await;
        assert_eq!(status, 400);
        assert!(page.contains("rejected the token"), "{page}");
        assert!(!page.contains("squ_not_a_token"));
        // An expired token.
        fakes.sonar.add_user("squ_old", "bob", "Bob B.");
        fakes.sonar.expire_token("squ_old");
        let (status, _) = link_account(&link, conn, "squ_old").await;
        assert_eq!(status, 400);
        // No CSRF cookie: refused.
        let b = browser();
        let page = b
            .get(&link)
            .send()
            .await
            .expect("form")
            .text()
            .await
            .expect("page");
        let res = b
            .post(&link)
            .form(&[
                ("csrf", hidden_csrf(&page).as_str()),
                ("connection", &conn.to_string()),
                ("sonar_token", BOB_SONAR_TOKEN),
            ])
            .send()
            .await
            .expect("post");
        assert_eq!(res.status(), 403);
        assert_eq!(
            user_link::Entity::find().count(&app.db).await.expect("db"),
            0
        );
        // SonarQube down: said, nothing stored.
        fakes.sonar.set_down(true);
        let (status, page) = link_account(&link, conn, BOB_SONAR_TOKEN).await;
        assert_eq!(status, 502);
        assert!(page.contains("unavailable"), "{page}");
        fakes.sonar.set_down(false);
        let (status, _) = link_account(&link, conn, BOB_SONAR_TOKEN).await;
        assert_eq!(status, 200);
        assert_eq!(
            user_link::Entity::find().count(&app.db).await.expect("db"),
            1
        );
        // Unknown links.
        let res = b
            .get(format!("{}/connect/nonsense", app.base))
            .send()
            .await
            .expect("get");
        assert_eq!(res.status(), 404);
        // disconnect removes the link and its sealed token.
        let (_, answer) = slack.command(BOB, CHANNEL, "disconnect", "").await;
        assert!(text(&answer).contains("Unlinked"), "{answer}");
        assert_eq!(
            user_link::Entity::find().count(&app.db).await.expect("db"),
            0
        );
        app.stop().await;
        fakes.stop();
        db.cleanup().await;
    }
}

#[tokio::test]
async fn commands_say_what_went_wrong_and_what_to_do() {
    for db in databases().await {
        let fakes = Fakes::start();
        let (app, conn) = spawn(&db, &fakes).await;
        // Before the install.
        let slack = SlackSide::new(&app.base);
        let (_, answer) = slack.command(ALICE, CHANNEL, "list", "").await;
        assert!(text(&answer).contains("/slack/install"), "{answer}");
        let slack = installed_and_linked(&app, &fakes, conn).await;
        let cases = [
            ("", "show this help"),
            ("help", "unsubscribe"),
            ("frobnicate", "I don't know `frobnicate`"),
            ("subscribe", "needs at least one project key"),
            ("subscribe <#C123|general>", "not a project key"),
            ("subscribe acme:nope", "was not found"),
            (
                "subscribe acme:payments-api on https://other.example.com",
                "No SonarQube server",
            ),
            ("unsubscribe acme:payments-api", "not subscribed"),
        ];
        for (input, expected) in cases {
            let (status, answer) = slack.command(ALICE, CHANNEL, input, "").await;
            assert_eq!(status, 200, "{input}");
            assert_eq!(answer["response_type"], "ephemeral", "{input}: {answer}");
            assert!(text(&answer).contains(expected), "{input}: {answer}");
        }
        let many: Vec<String> = (0..21).map(|i| format!("p{i}")).collect();
        let (_, answer) = slack
            .command(ALICE, CHANNEL, &format!("subscribe {}", many.join(" ")), "")
            .await;
        assert!(text(&answer).contains("at most 20"), "{answer}");
        // Bob has not linked his account.
        let (_, answer) = slack
            .command(BOB, CHANNEL, "subscribe acme:payments-api", "")
            .await;
        assert!(text(&answer).contains("connect"), "{answer}");
        // A private channel the bot is not in.
        fakes.slack.set_channel(
            "G0PRIVATE1",
            ChannelInfo {
                private: true,
                bot_is_member: false,
            },
        );
        let (_, answer) = slack
            .command(ALICE, "G0PRIVATE1", "subscribe acme:payments-api", "")
            .await;
        assert!(text(&answer).contains("/invite"), "{answer}");
        // SonarQube down, then Alice's token expired.
        fakes.sonar.set_down(true);
        let (_, answer) = slack
            .command(ALICE, CHANNEL, "subscribe acme:payments-api", "")
            .await;
        assert!(text(&answer).contains("unavailable"), "{answer}");
        fakes.sonar.set_down(false);
        fakes.sonar.expire_token(ALICE_SONAR_TOKEN);
        let (_, answer) = slack
            .command(ALICE, CHANNEL, "subscribe acme:payments-api", "")
            .await;
        assert!(text(&answer).contains("rejected the token"), "{answer}");
        assert_eq!(
            subscription::Entity::find()
                .count(&app.db)
                .await
                .expect("db"),
            0
        );
        app.stop().await;
        fakes.stop();
        db.cleanup().await;
    }
}

#[tokio::test]
async fn several_keys_ambiguous_keys_and_a_second_server() {
    for db in databases().await {
        let fakes = Fakes::start();
        let (app, conn) = spawn(&db, &fakes).await;
        let other = FakeSonar::start().expect("second sonar");
        other.add_user("squ_alice_other", "alice", "Alice A.");
        other.add_project(PROJECT_A, "Payments API (EU)", "ERROR");
        other.add_project("eu:only", "EU only", "ERROR");
        other.grant_browse("alice", PROJECT_A);
        other.grant_browse("alice", "eu:only");
        let conn2 = app.add_connection(&other.url(), None).await;
        let slack = installed_and_linked(&app, &fakes, conn).await;
        let (_, answer) = slack.command(ALICE, CHANNEL, "connect", "").await;
        let (status, _) = link_account(&link_in(&answer), conn2, "squ_alice_other").await;
        assert_eq!(status, 200);
        // The same key on both servers: the choices are given.
        let (_, answer) = slack
            .command(ALICE, CHANNEL, "subscribe acme:payments-api", "")
            .await;
        assert_eq!(answer["response_type"], "ephemeral", "{answer}");
        let t = text(&answer);
        assert!(
            t.contains("several SonarQube servers")
                && t.contains(&other.url())
                && t.contains(&fakes.sonar.url()),
            "{t}"
        );
        // Named, with another key at once; a third that does not exist goes to Alice alone.
        let input = format!(
            "subscribe acme:payments-api, eu:only 'ghost' on {}",
            other.url()
        );
        let reply_to = fakes.slack.response_url("multi");
        let (_, answer) = slack.command(ALICE, CHANNEL, &input, &reply_to).await;
        assert_eq!(answer["response_type"], "in_channel", "{answer}");
        let t = text(&answer);
        assert!(
            t.contains("Payments API (EU)") && t.contains("EU only") && t.contains("Failed"),
            "{t}"
        );
        let private = fakes
            .slack
            .wait_for_responses("multi", 1, super::helpers::WAIT)
            .await;
        assert_eq!(private.len(), 1);
        assert_eq!(private[0]["response_type"], "ephemeral");
        assert!(
            private[0]["text"]
                .as_str()
                .unwrap_or_default()
                .contains("ghost"),
            "{private:?}"
        );
        let subs = subscription::Entity::find().all(&app.db).await.expect("db");
        assert_eq!(subs.len(), 2);
        assert!(subs.iter().all(|s| s.connection_id == conn2));
        other.stop();
        app.stop().await;
        fakes.stop();
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_slow_sonarqube_is_acknowledged_at_once_and_answered_through_response_url() {
    for db in databases().await {
        let fakes = Fakes::start();
        let (app, conn) = spawn_tuned(&db, &fakes, |s| s.slack_ack_budget_ms = 100).await;
        let slack = installed_and_linked(&app, &fakes, conn).await;
        fakes.sonar.set_delay(Duration::from_millis(400));
        let reply_to = fakes.slack.response_url("slow");
        let (status, answer) = slack
            .command(ALICE, CHANNEL, "subscribe acme:payments-api", &reply_to)
            .await;
        assert_eq!(status, 200);
        assert_eq!(answer["response_type"], "ephemeral");
        assert!(
            text(&answer).contains("Checking with SonarQube"),
            "{answer}"
        );
        let later = fakes
            .slack
            .wait_for_responses("slow", 1, super::helpers::WAIT)
            .await;
        assert_eq!(later.len(), 1, "{later:?}");
        assert_eq!(later[0]["response_type"], "in_channel");
        assert!(
            later[0]["text"]
                .as_str()
                .unwrap_or_default()
                .contains("subscribed this channel"),
            "{later:?}"
        );
        app.stop().await;
        fakes.stop();
        db.cleanup().await;
    }
}

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
        app.stop().await;
        fakes.stop();
        db.cleanup().await;
    }
}

#[tokio::test]
async fn rotating_bot_tokens_are_refreshed_once_before_they_expire() {
    for db in databases().await {
        let fakes = Fakes::start();
        let (app, conn) = spawn(&db, &fakes).await;
        let mut grant = InstallGrant::team(APP_TEAM, "xoxe.xoxb-rotating-1");
        grant.rotation = true;
        fakes.slack.add_install("code-rotating", grant);
        // Shorter than the refresh margin (5 min): the first post must refresh first.
        fakes.slack.set_token_lifetime(60);
        fakes
            .slack
            .set_redirect_uri(&format!("{}/slack/oauth/callback", app.base));
        let (status, _) = install(&app.base, "code-rotating").await;
        assert_eq!(status, 200);
        let ws = app_workspace(&app).await;
        assert!(ws.refresh_token_sealed.is_some() && ws.token_expires_at.is_some());
        for channel in ["C0ROTATE01", "C0ROTATE02", "C0ROTATE03"] {
            catalog::subscribe(
                &app.db,
                &TeamId::parse(APP_TEAM).expect("team"),
                &ChannelId::parse(channel).expect("channel"),
                conn,
                &ProjectKey::parse(PROJECT_A).expect("key"),
                None,
            )
            .await
            .expect("subscribe");
        }
        // The installed token expires within the refresh margin; refreshed ones last 12 h.
        fakes.slack.set_token_lifetime(43_200);
        // A first status, so that the next failing analysis notifies.
        let first = webhook(&app.base, &fakes.sonar.url(), PROJECT_A, false, 29).await;
        assert_eq!(first["decision"], "first_status", "{first}");
        let report = webhook(&app.base, &fakes.sonar.url(), PROJECT_A, true, 30).await;
        assert_eq!(report["channels"], 3, "{report}");
        if let Err(e) = fakes.slack.wait_for_messages(3, super::helpers::WAIT).await {
            panic!(
                "{e}; deliveries: {:?}; oauth: {:?}",
                app.deliveries().await,
                fakes.slack.oauth_calls()
            );
        }
        let refreshes: Vec<_> = fakes
            .slack
            .oauth_calls()
            .into_iter()
            .filter(|c| c.grant_type.as_deref() == Some("refresh_token"))
            .collect();
        assert_eq!(
            refreshes.len(),
            1,
            "one refresh for three channels at once: {refreshes:?}"
        );
        assert!(refreshes.iter().all(|c| c.error.is_none()));
        let after = app_workspace(&app).await;
        assert_ne!(
            after.refresh_token_sealed, ws.refresh_token_sealed,
            "the new pair is stored"
        );
        app.stop().await;
        fakes.stop();
        db.cleanup().await;
    }
}

async fn app_workspace(app: &TestApp) -> workspace::Model {
    workspace::Entity::find_by_id(APP_TEAM.to_owned())
        .one(&app.db)
        .await
        .expect("db")
        .expect("workspace")
}
