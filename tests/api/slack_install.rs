//! Installing the app: every failure shows a page and stores nothing; reinstalls update in place;
//! rotating tokens are refreshed once.

use entity::{oauth_state, workspace};
use reqwest::header::COOKIE;
use sea_orm::{EntityTrait, PaginatorTrait};
use secrecy::ExposeSecret;
use sonar_slack::domain::types::{ChannelId, ProjectKey, TeamId};
use sonar_slack::store::{catalog, sealed};
use sonar_slack::testing::fake_slack::{InstallGrant, Scripted};

use super::helpers::{TestApp, databases};
use super::slack_world::*;
use sonar_slack::testing::slack_side;

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
        assert!(page.contains("not issued by this service"), "{page}");
        let (_, state) = start(b.clone()).await;
        let (status, page) = callback(
            vec![("code", "code-install-1".into()), ("state", state.clone())],
            None,
        )
        .await;
        assert_eq!(status, 400);
        assert!(page.contains("another browser"), "{page}");
        // A state sealed for another purpose, or tampered with, is not one of ours either.
        let other = app.sealer.seal_for_url(
            r#"{"nonce":"n","expires":99999999999,"browser":"b"}"#,
            "something else",
        );
        let mut tampered = state.clone();
        tampered.replace_range(10..11, if &tampered[10..11] == "A" { "B" } else { "A" });
        for bad in [other, tampered] {
            let (status, page) = callback(
                vec![("code", "code-install-1".into()), ("state", bad)],
                None,
            )
            .await;
            assert_eq!(status, 400);
            assert!(page.contains("not issued by this service"), "{page}");
        }
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
        // No state at all, and a repeated one: pages, not framework errors.
        let (status, page) = callback(vec![("code", "code-install-1".into())], None).await;
        assert_eq!(status, 400);
        assert!(page.contains("<html"), "{page}");
        let twice = vec![
            ("code", "code-install-1".into()),
            ("state", "a".into()),
            ("state", "b".into()),
        ];
        let (status, page) = callback(twice, None).await;
        assert_eq!(status, 400);
        assert!(page.contains("<html"), "{page}");
        assert_eq!(
            workspace::Entity::find().count(&app.db).await.expect("db"),
            0
        );
        // Starting installs stores nothing (the state is sealed into the URL), so the page cannot
        // be used to fill the database. Only the two verified states that came back above (the
        // cancelled install and the one Slack refused) are recorded as used.
        for _ in 0..20 {
            start(b.clone()).await;
        }
        assert_eq!(
            oauth_state::Entity::find()
                .count(&app.db)
                .await
                .expect("db"),
            2
        );
        // A good one; its callback replayed (the same state and cookie) is refused.
        let (cookie, state) = start(b.clone()).await;
        let approved = vec![("code", "code-install-1".to_owned()), ("state", state)];
        let (status, page) = callback(approved.clone(), Some(cookie.clone())).await;
        assert_eq!(status, 200, "{page}");
        let (status, page) = callback(approved, Some(cookie)).await;
        assert_eq!(status, 400);
        assert!(page.contains("already used"), "{page}");
        // A reinstall updates the workspace in place.
        let mut grant = InstallGrant::team(APP_TEAM, "xoxb-second-token");
        grant.team_name = Some("Acme Renamed".into());
        fakes.slack.add_install("code-install-2", grant);
        let (status, _) = install(&app.base, "code-install-2").await;
        assert_eq!(status, 200);
        let all = workspace::Entity::find().all(&app.db).await.expect("db");
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].team_name.as_deref(), Some("Acme Renamed"));
        // `workspaces add` without a name replaces the token and keeps the installed name.
        catalog::upsert_workspace(
            &app.db,
            &TeamId::parse(APP_TEAM).expect("team"),
            None,
            app.sealer
                .seal("xoxb-by-hand", &catalog::bot_token_context(APP_TEAM)),
        )
        .await
        .expect("workspaces add");
        assert_eq!(
            app_workspace(&app).await.team_name.as_deref(),
            Some("Acme Renamed")
        );
        finish(app, fakes, db).await;
    }
}

/// Installs the app with token rotation, its token expiring within the refresh margin (5 min) so
/// that the first post must refresh first, and subscribes `channels` to PROJECT_A; tokens issued
/// afterwards last 12 h. Returns the installed workspace.
async fn install_rotating(
    app: &TestApp,
    fakes: &Fakes,
    conn: i64,
    channels: &[&str],
) -> workspace::Model {
    let mut grant = InstallGrant::team(APP_TEAM, "xoxe.xoxb-rotating-1");
    grant.rotation = true;
    fakes.slack.add_install("code-rotating", grant);
    fakes.slack.set_token_lifetime(60);
    fakes
        .slack
        .set_redirect_uri(&format!("{}/slack/oauth/callback", app.base));
    let (status, _) = install(&app.base, "code-rotating").await;
    assert_eq!(status, 200);
    let ws = app_workspace(app).await;
    assert!(ws.refresh_token_sealed.is_some() && ws.token_expires_at.is_some());
    for channel in channels {
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
    fakes.slack.set_token_lifetime(43_200);
    ws
}

#[tokio::test]
async fn rotating_bot_tokens_are_refreshed_once_before_they_expire() {
    for db in databases().await {
        let fakes = Fakes::start();
        let (app, conn) = spawn(&db, &fakes).await;
        let ws = install_rotating(
            &app,
            &fakes,
            conn,
            &["C0ROTATE01", "C0ROTATE02", "C0ROTATE03"],
        )
        .await;
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
        finish(app, fakes, db).await;
    }
}

#[tokio::test]
async fn a_refresh_stores_its_new_pair_though_a_key_rotation_resealed_the_old_one_meanwhile() {
    for db in databases().await {
        let fakes = Fakes::start();
        let (app, conn) = spawn(&db, &fakes).await;
        install_rotating(&app, &fakes, conn, &["C0RESEAL01"]).await;
        let first = webhook(&app.base, &fakes.sonar.url(), PROJECT_A, false, 29).await;
        assert_eq!(first["decision"], "first_status", "{first}");

        // The post needs a refresh; while Slack has it, a key rotation re-seals the refresh token.
        fakes.slack.hold_oauth();
        let report = webhook(&app.base, &fakes.sonar.url(), PROJECT_A, true, 30).await;
        assert_eq!(report["channels"], 1, "{report}");
        assert!(
            fakes
                .slack
                .wait_for_held_oauth(1, super::helpers::WAIT)
                .await
        );
        let place = sealed::Place::RefreshToken {
            team: APP_TEAM.into(),
        };
        let stored = app_workspace(&app)
            .await
            .refresh_token_sealed
            .expect("refresh");
        let used = app.sealer.open(&stored, &place.context()).expect("opens");
        let resealed = app.sealer.seal(used.expose_secret(), &place.context());
        assert!(
            sealed::replace(&app.db, &place, &stored, &resealed)
                .await
                .expect("reseal")
        );
        fakes.slack.release_oauth();

        fakes
            .slack
            .wait_for_messages(1, super::helpers::WAIT)
            .await
            .expect("posted");
        let after = app_workspace(&app).await;
        assert_eq!(after.status, "active");
        let now = app
            .sealer
            .open(
                after.refresh_token_sealed.as_deref().expect("refresh"),
                &place.context(),
            )
            .expect("opens");
        assert_ne!(
            now.expose_secret(),
            used.expose_secret(),
            "[{}] the refreshed pair is stored, not dropped for a re-sealed copy of the used token",
            db.kind
        );
        finish(app, fakes, db).await;
    }
}

#[tokio::test]
async fn token_expired_from_slack_refreshes_and_sends_once_more() {
    for db in databases().await {
        let fakes = Fakes::start();
        let (app, conn) = spawn(&db, &fakes).await;
        let mut grant = InstallGrant::team(APP_TEAM, "xoxe.xoxb-rotating-2");
        grant.rotation = true;
        fakes.slack.add_install("code-rotating", grant);
        fakes
            .slack
            .set_redirect_uri(&format!("{}/slack/oauth/callback", app.base));
        assert_eq!(install(&app.base, "code-rotating").await.0, 200);
        catalog::subscribe(
            &app.db,
            &TeamId::parse(APP_TEAM).expect("team"),
            &ChannelId::parse(CHANNEL).expect("channel"),
            conn,
            &ProjectKey::parse(PROJECT_A).expect("key"),
            None,
        )
        .await
        .expect("subscribe");
        // Slack says the (12 h) token has expired anyway, e.g. after a clock jump.
        fakes
            .slack
            .script(CHANNEL, [Scripted::Error("token_expired".into())]);
        webhook(&app.base, &fakes.sonar.url(), PROJECT_A, false, 40).await;
        let report = webhook(&app.base, &fakes.sonar.url(), PROJECT_A, true, 41).await;
        assert_eq!(report["channels"], 1, "{report}");
        let posted = fakes
            .slack
            .wait_for_messages(1, super::helpers::WAIT)
            .await
            .expect("sent again with the new token");
        assert_eq!(posted.len(), 1);
        let refreshes = fakes
            .slack
            .oauth_calls()
            .into_iter()
            .filter(|c| c.grant_type.as_deref() == Some("refresh_token"))
            .count();
        assert_eq!(refreshes, 1);
        let settled = app.settled().await;
        assert_eq!(settled[0].status, "sent");
        assert_eq!(app_workspace(&app).await.status, "active");
        finish(app, fakes, db).await;
    }
}

#[tokio::test]
async fn an_organization_wide_install_serves_the_workspaces_of_its_organization() {
    const ORG: &str = "E0ORG00001";
    for db in databases().await {
        let fakes = Fakes::start();
        let (app, conn) = spawn(&db, &fakes).await;
        fakes
            .slack
            .add_install("code-org", InstallGrant::enterprise(ORG, "xoxb-org-wide"));
        fakes
            .slack
            .set_redirect_uri(&format!("{}/slack/oauth/callback", app.base));
        assert_eq!(install(&app.base, "code-org").await.0, 200);
        let ws = workspace::Entity::find().all(&app.db).await.expect("db");
        assert_eq!(ws.len(), 1);
        assert_eq!(ws[0].team_id, ORG, "keyed by the enterprise");
        assert_eq!(ws[0].enterprise_id.as_deref(), Some(ORG));
        // A command from one of the organization's workspaces finds that installation.
        let slack = slack_side::SlackSide::new(&app.base, SIGNING_SECRET, APP_TEAM).org_wide(ORG);
        let (_, answer) = slack
            .command(ALICE, CHANNEL, "connect", "")
            .await
            .expect("connect");
        let (status, _) = link_account(&link_in(&answer), conn, ALICE_SONAR_TOKEN).await;
        assert_eq!(status, 200);
        let (_, answer) = slack
            .command(ALICE, CHANNEL, "subscribe acme:payments-api", "")
            .await
            .expect("subscribe");
        assert_eq!(answer["response_type"], "in_channel", "{answer}");
        let report = webhook(&app.base, &fakes.sonar.url(), PROJECT_A, true, 50).await;
        assert_eq!(report["decision"], "notified", "{report}");
        let posted = fakes
            .slack
            .wait_for_messages(1, super::helpers::WAIT)
            .await
            .expect("posted with the organization's token");
        assert_eq!(posted[0].team_id, ORG);
        finish(app, fakes, db).await;
    }
}
