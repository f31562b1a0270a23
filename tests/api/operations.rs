//! Broken routes and failed deliveries, seen and fixed with the real binary's commands while the
//! service runs: `subscriptions list | add | enable`, `deliveries list | retry`.

use std::process::Command;
use std::time::Duration;

use secrecy::ExposeSecret;
use sonar_slack::store::{deliveries, operator};
use sonar_slack::testing::fake_slack::Scripted;

use crate::helpers::*;

const BIN: &str = env!("CARGO_BIN_EXE_sonar-slack");

/// What one command printed and whether it succeeded.
pub struct Ran {
    pub ok: bool,
    pub out: String,
    pub err: String,
}

/// Runs `sonar-slack <args>` on the test's database.
pub async fn cli(db: &TestDb, args: &[&str]) -> Ran {
    let url = db.url.clone();
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let key = test_key().expose_secret().to_owned();
        let out = Command::new(BIN)
            .args(&args)
            .env("SONAR_SLACK_DATABASE_URL", url)
            .env("SONAR_SLACK_ENCRYPTION_KEY", key)
            // The same settings as the service of `spawn_sweeping`, as an operator would use.
            .env("SONAR_SLACK_DELIVERY_SWEEP_SECS", "1")
            .env("SONAR_SLACK_RETRY_MAX_AMBIGUOUS", "2")
            .env_remove("SONAR_SLACK_BOT_TOKEN")
            .env_remove("SONAR_SLACK_WEBHOOK_SECRET")
            .output()
            .expect("the binary runs");
        Ran {
            ok: out.status.success(),
            out: String::from_utf8_lossy(&out.stdout).into_owned(),
            err: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    })
    .await
    .expect("cli thread")
}

/// The service sweeping pending deliveries every second, so retried ones go out quickly.
async fn spawn_sweeping(
    db: &TestDb,
    fake: &sonar_slack::testing::fake_slack::FakeSlack,
) -> TestApp {
    let mut s = settings_for(db, fake);
    s.delivery_sweep_secs = 1;
    s.retry_max_ambiguous = 2;
    TestApp::spawn_with(s).await
}

async fn wait_status(app: &TestApp, id: i64, status: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let d = deliveries::get(&app.db, id)
            .await
            .expect("db")
            .expect("row");
        if d.status == status {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "delivery {id} is still {d:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_broken_route_is_listed_re_enabled_and_its_delivery_retried() {
    for db in databases().await {
        let fake = fake_slack();
        let app = spawn_sweeping(&db, &fake).await;
        app.setup(&fake, &["C0GONE", "C0AAA"]).await;
        fake.script("C0GONE", [Scripted::Error("not_in_channel".into())]);
        assert_eq!(app.decision(&at(PASSED, 0)).await, "first_status");
        assert_eq!(app.decision(&at(FAILED, 10)).await, "notified");
        let settled = app.settled().await;
        let gone = settled
            .iter()
            .find(|d| d.channel_id == "C0GONE")
            .expect("delivery")
            .clone();
        assert_eq!(gone.status, "failed");
        let id = gone.id.to_string();

        // Visible: the subscription says why, the failed delivery is listed with its project.
        let subs = cli(&db, &["subscriptions", "list"]).await;
        let line = subs
            .out
            .lines()
            .find(|l| l.contains("C0GONE"))
            .unwrap_or_default();
        assert!(
            line.contains("disabled") && line.contains("not_in_channel"),
            "{}",
            subs.out
        );
        let listed = cli(&db, &["deliveries", "list", "--state", "failed"]).await;
        assert!(listed.ok, "{}", listed.err);
        let rows: Vec<&str> = listed.out.lines().skip(1).collect();
        assert_eq!(rows.len(), 1, "{}", listed.out);
        let cols: Vec<&str> = rows[0].split('\t').collect();
        assert_eq!(
            (
                cols[0], cols[2], cols[3], cols[4], cols[5], cols[6], cols[7]
            ),
            (id.as_str(), TEAM, "C0GONE", PROJECT, "failed", "1", "0"),
            "{}",
            listed.out
        );
        assert!(cols[8].contains("not_in_channel"), "{}", listed.out);
        let everything = cli(&db, &["deliveries", "list"]).await;
        assert_eq!(everything.out.lines().count(), 3, "{}", everything.out);
        let limited = cli(&db, &["deliveries", "list", "--limit", "1"]).await;
        assert!(limited.out.contains("the newest 1 of 2"), "{}", limited.out);

        // Retrying before the route is fixed is refused, naming the command that fixes it.
        let early = cli(&db, &["deliveries", "retry", &id]).await;
        assert!(!early.ok);
        assert!(
            early
                .out
                .contains("subscriptions enable --team-id T0TEST0001 --channel-id C0GONE"),
            "{}",
            early.out
        );
        assert_eq!(
            app.deliveries().await[gone_index(&settled, gone.id)].status,
            "failed"
        );

        // The app was invited back: the channel is re-enabled, and says so once.
        let enabled = cli(
            &db,
            &[
                "subscriptions",
                "enable",
                "--team-id",
                TEAM,
                "--channel-id",
                "C0GONE",
            ],
        )
        .await;
        assert!(enabled.ok, "{}", enabled.err);
        assert!(
            enabled.out.contains("re-enabled subscription")
                && enabled.out.contains("1 failed delivery"),
            "{}",
            enabled.out
        );
        let again = cli(
            &db,
            &[
                "subscriptions",
                "enable",
                "--team-id",
                TEAM,
                "--channel-id",
                "C0GONE",
            ],
        )
        .await;
        assert!(
            again.ok && again.out.contains("nothing to re-enable"),
            "{}",
            again.out
        );
        let nowhere = cli(
            &db,
            &[
                "subscriptions",
                "enable",
                "--team-id",
                TEAM,
                "--channel-id",
                "C0NONE",
            ],
        )
        .await;
        assert!(
            !nowhere.ok && nowhere.err.contains("no subscription"),
            "{}",
            nowhere.err
        );

        // Now the retry works, and the running service sends it at its next sweep.
        let retried = cli(&db, &["deliveries", "retry", &id]).await;
        assert!(retried.ok, "{} {}", retried.out, retried.err);
        assert!(
            retried.out.contains("back to pending") && retried.out.contains("within 1 s"),
            "{}",
            retried.out
        );
        wait_status(&app, gone.id, "sent").await;
        assert_eq!(fake.messages_for("C0GONE").len(), 1);
        assert_eq!(
            fake.messages_for("C0AAA").len(),
            1,
            "the other channel once"
        );

        // Sent, unknown and pending ones are refused with the reason.
        let twice = cli(&db, &["deliveries", "retry", &id, "999999"]).await;
        assert!(!twice.ok);
        assert!(twice.out.contains("sent already"), "{}", twice.out);
        assert!(twice.out.contains("no such delivery"), "{}", twice.out);
        let none = cli(&db, &["deliveries", "retry", "--all"]).await;
        assert!(
            none.ok && none.out.contains("no failed deliveries"),
            "{}",
            none.out
        );
        let empty = cli(&db, &["deliveries", "list", "--state", "pending"]).await;
        assert_eq!(empty.out.trim(), "no pending deliveries");
        assert_eq!(fake.messages().len(), 2, "nothing posted twice");
        app.crash().await;
        db.cleanup().await;
    }
}

fn gone_index(rows: &[entity::delivery::Model], id: i64) -> usize {
    rows.iter().position(|d| d.id == id).expect("row")
}

#[tokio::test]
async fn a_delivery_that_may_have_posted_is_retried_only_when_the_operator_insists() {
    for db in databases().await {
        let fake = fake_slack();
        let app = spawn_sweeping(&db, &fake).await;
        app.setup(&fake, &["C0AAA"]).await;
        // Two 500s: each may have posted; the bound (2) is reached and the delivery fails.
        fake.script("C0AAA", [Scripted::Status(500), Scripted::Status(500)]);
        assert_eq!(app.decision(&at(PASSED, 0)).await, "first_status");
        assert_eq!(app.decision(&at(FAILED, 10)).await, "notified");
        let d = app.settled().await.remove(0);
        assert_eq!((d.status.as_str(), d.ambiguous_attempts), ("failed", 2));
        let id = d.id.to_string();

        let refused = cli(&db, &["deliveries", "retry", &id]).await;
        assert!(!refused.ok);
        assert!(
            refused.out.contains("may already be in Slack")
                && refused.out.contains("--even-if-posted"),
            "{}",
            refused.out
        );
        let all = cli(&db, &["deliveries", "retry", "--all"]).await;
        assert!(all.ok, "--all reports what it skipped: {}", all.err);
        assert!(all.out.contains("none of the 1 failed"), "{}", all.out);
        assert_eq!(
            deliveries::get(&app.db, d.id)
                .await
                .expect("db")
                .expect("row")
                .status,
            "failed"
        );

        // The update is conditional: a stale view (another count, another state) changes nothing.
        assert!(
            !operator::requeue(&app.db, d.id, 1, false)
                .await
                .expect("db")
        );
        assert_eq!(
            deliveries::get(&app.db, d.id)
                .await
                .expect("db")
                .expect("row")
                .status,
            "failed"
        );

        let forced = cli(&db, &["deliveries", "retry", &id, "--even-if-posted"]).await;
        assert!(forced.ok, "{}", forced.err);
        assert!(
            forced.err.contains("Slack may show it twice"),
            "{}",
            forced.err
        );
        wait_status(&app, d.id, "sent").await;
        let row = deliveries::get(&app.db, d.id)
            .await
            .expect("db")
            .expect("row");
        assert_eq!(row.ambiguous_attempts, 0, "the count starts again");
        assert_eq!(fake.messages_for("C0AAA").len(), 1);
        assert!(
            !operator::requeue(&app.db, d.id, 0, false)
                .await
                .expect("db"),
            "a sent row stays sent"
        );
        app.crash().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn subscribing_again_re_enables_a_disabled_subscription() {
    for db in databases().await {
        let fake = fake_slack();
        let app = TestApp::spawn(&db, &fake).await;
        app.setup(&fake, &["C0AAA"]).await;
        deliveries::disable_route(
            &app.db,
            TEAM,
            "C0AAA",
            "Slack refused the channel (is_archived)",
        )
        .await
        .expect("disable");
        let listed = cli(&db, &["subscriptions", "list"]).await;
        assert!(
            listed
                .out
                .contains("disabled (Slack refused the channel (is_archived))"),
            "{}",
            listed.out
        );
        let added = cli(
            &db,
            &[
                "subscriptions",
                "add",
                "--team-id",
                TEAM,
                "--channel-id",
                "C0AAA",
                "--project",
                PROJECT,
            ],
        )
        .await;
        assert!(added.ok, "{}", added.err);
        assert!(
            added
                .out
                .contains("re-enabled; it was disabled: Slack refused the channel (is_archived)"),
            "{}",
            added.out
        );
        let subs = app.subscriptions().await;
        assert_eq!(subs.len(), 1, "the same subscription, not a second one");
        assert_eq!(
            (subs[0].status.as_str(), subs[0].disabled_reason.as_deref()),
            ("active", None)
        );
        // One project of a channel by name: refused when it is already active.
        let one = cli(
            &db,
            &[
                "subscriptions",
                "enable",
                "--team-id",
                TEAM,
                "--channel-id",
                "C0AAA",
                "--project",
                PROJECT,
            ],
        )
        .await;
        assert!(
            one.ok && one.out.contains("nothing to re-enable"),
            "{}",
            one.out
        );
        app.crash().await;
        db.cleanup().await;
    }
}
