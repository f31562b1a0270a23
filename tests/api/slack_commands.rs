//! Slash commands and the linking page: each way they can go wrong says what to do.

use std::time::Duration;

use entity::{subscription, user_link};
use sea_orm::{EntityTrait, PaginatorTrait};
use sonar_slack::testing::fake_slack::ChannelInfo;
use sonar_slack::testing::fake_sonar::FakeSonar;

use super::helpers::databases;
use super::slack_world::*;

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
        // The page says whose link it is, against links passed on by someone else.
        let page = browser()
            .get(&link)
            .send()
            .await
            .expect("form")
            .text()
            .await
            .expect("page");
        assert!(page.contains(BOB) && page.contains("Acme"), "{page}");
        assert!(
            page.contains("Only go on if you ran /sonarqube connect yourself"),
            "{page}"
        );
        // A wrong token: the form again, with SonarQube's verdict, and the link still works.
        let (status, page) = link_account(&link, conn, "squ_not_a_token").await;
        assert_eq!(status, 400);
        assert!(page.contains("rejected this token"), "{page}");
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
        finish(app, fakes, db).await;
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
        finish(app, fakes, db).await;
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
        finish(app, fakes, db).await;
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
            text(&answer).contains("checking with SonarQube"),
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
        finish(app, fakes, db).await;
    }
}
