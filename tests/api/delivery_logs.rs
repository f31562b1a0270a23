//! Runs the real binary with `SONAR_SLACK_LOG_FORMAT=json` and `RUST_LOG=debug` through a transition
//! delivered to two channels (one answered 429 first, one refused with `ok:false`), and checks that
//! every line printed is JSON and every line about a delivery names its id, project and channel.

use std::process::{Child, Command, Stdio};

use serde_json::Value;
use sonar_slack::crypto::Sealer;
use sonar_slack::domain::signature::sonar_signature;
use sonar_slack::domain::types::{ChannelId, ProjectKey, ServerUrl};
use sonar_slack::store::{self, catalog};
use sonar_slack::testing::fake_slack::Scripted;

use super::helpers::*;
use super::slack_world::eventually;

const BIN: &str = env!("CARGO_BIN_EXE_sonar-slack");

struct Serving(Child);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A field of the event, or of the spans it happened in.
fn field<'a>(line: &'a Value, name: &str) -> Option<&'a Value> {
    line.get(name)
        .or_else(|| line.get("span").and_then(|s| s.get(name)))
        .or_else(|| {
            line.get("spans")?
                .as_array()?
                .iter()
                .find_map(|s| s.get(name))
        })
}

fn in_delivery_span(line: &Value) -> bool {
    line["span"]["name"] == "deliver"
        || line["spans"]
            .as_array()
            .is_some_and(|spans| spans.iter().any(|s| s["name"] == "deliver"))
}

/// Inside a delivery's span, naming one (`delivery` field), or saying "delivery" (singular: about
/// one; lines about "deliveries" are per-batch summaries).
fn about_a_delivery(line: &Value) -> bool {
    let says_delivery = line["message"].as_str().is_some_and(|m| {
        m.to_ascii_lowercase()
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|w| w == "delivery")
    });
    in_delivery_span(line) || line.get("delivery").is_some() || says_delivery
}

#[tokio::test]
async fn json_logs_name_the_delivery_project_and_channel_on_every_line() {
    let dir = tempfile::tempdir().expect("dir");
    let db_url = format!("sqlite://{}?mode=rwc", dir.path().join("logs.db").display());
    let key = test_key();
    let sealer = Sealer::from_base64(&key).expect("key");
    let db = store::connect(&db_url, 1).await.expect("db");
    store::migrate(&db).await.expect("migrate");
    let server = ServerUrl::parse(SERVER).expect("url");
    let sealed = sealer.seal(SECRET, &catalog::webhook_secret_context(server.as_str()));
    let conn = catalog::add_connection(&db, &server, None, Some(sealed))
        .await
        .expect("connection");
    let fake = fake_slack();
    fake.add_token(TOKEN, TEAM);
    catalog::upsert_workspace(
        &db,
        &team(),
        None,
        sealer.seal(TOKEN, &catalog::bot_token_context(TEAM)),
    )
    .await
    .expect("workspace");
    for channel in ["C0SENT", "C0LIMIT", "C0FAIL"] {
        catalog::subscribe(
            &db,
            &team(),
            &ChannelId::parse(channel).expect("channel"),
            conn.id,
            &ProjectKey::parse(PROJECT).expect("project"),
            Some("test"),
        )
        .await
        .expect("subscribe");
    }
    fake.script(
        "C0LIMIT",
        [Scripted::RateLimited {
            retry_after: Some("0".into()),
        }],
    );
    fake.script("C0FAIL", [Scripted::Error("mystery_error".into())]);

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let log_path = dir.path().join("service.log");
    let log = || {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .expect("log file")
    };
    let mut serving = Serving(
        Command::new(BIN)
            .arg("serve")
            .env("RUST_LOG", "debug")
            .env("SONAR_SLACK_LOG_FORMAT", "json")
            .env("SONAR_SLACK_DATABASE_URL", &db_url)
            .env(
                "SONAR_SLACK_ENCRYPTION_KEY",
                secrecy::ExposeSecret::expose_secret(&key),
            )
            .env("SONAR_SLACK_LISTEN", format!("127.0.0.1:{port}"))
            .env("SONAR_SLACK_SLACK_API_URL", fake.api_url())
            .env("SONAR_SLACK_RETRY_BACKOFF_BASE_MS", "20")
            .stdout(Stdio::from(log()))
            .stderr(Stdio::from(log()))
            .spawn()
            .expect("serve starts"),
    );
    let client = reqwest::Client::new();
    eventually("the service answers /healthz", || {
        let (client, url) = (client.clone(), format!("{base}/healthz"));
        async move {
            client
                .get(url)
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
        }
    })
    .await;
    for body in [at(PASSED, 0), at(FAILED, 10)] {
        let res = client
            .post(format!("{base}/webhooks/sonarqube"))
            .header("Content-Type", "application/json")
            .header(
                "X-Sonar-Webhook-HMAC-SHA256",
                sonar_signature(SECRET.as_bytes(), &body),
            )
            .body(body)
            .send()
            .await
            .expect("webhook");
        assert_eq!(res.status(), 200);
    }
    eventually("every delivery ended", || async {
        let rows = store::deliveries::all(&db).await.expect("deliveries");
        rows.len() == 3 && rows.iter().all(|d| d.status != "pending")
    })
    .await;
    // SIGTERM, and wait for the exit: every line is written out whole.
    let pid = serving.0.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status();
    assert!(killed.is_ok_and(|s| s.success()), "kill -TERM {pid}");
    eventually("the service exits on SIGTERM", || {
        let exited = serving.0.try_wait().ok().flatten().is_some();
        async move { exited }
    })
    .await;
    fake.stop();

    let printed = std::fs::read_to_string(&log_path).expect("log");
    let mut about = 0;
    let mut seen = Vec::new();
    for text in printed.lines() {
        let line: Value = serde_json::from_str(text)
            .unwrap_or_else(|e| panic!("a log line is not JSON ({e}): {text}"));
        assert!(
            line["level"].is_string() && line["timestamp"].is_string(),
            "{text}"
        );
        if !about_a_delivery(&line) {
            continue;
        }
        about += 1;
        let id = field(&line, "delivery").and_then(Value::as_i64);
        let project = field(&line, "project").and_then(Value::as_str);
        let channel = field(&line, "channel").and_then(Value::as_str);
        assert!(
            id.is_some() && project == Some(PROJECT) && channel.is_some(),
            "a line about a delivery lacks its id, project or channel: {text}"
        );
        if let (Some(message), Some(channel)) = (line["message"].as_str(), channel) {
            seen.push((message.to_owned(), channel.to_owned()));
        }
    }
    for (message, channel) in [
        ("delivery handed to its channel", "C0FAIL"),
        ("delivered", "C0SENT"),
        ("Slack rate limit; waiting as told", "C0LIMIT"),
        ("delivered", "C0LIMIT"),
        ("delivery failed", "C0FAIL"),
    ] {
        assert!(
            seen.iter().any(|(m, c)| m == message && c == channel),
            "no {message:?} line for {channel} in {seen:?}"
        );
    }
    eprintln!(
        "json log: {} lines, all JSON; {about} about a delivery, each with id, project and channel",
        printed.lines().count()
    );
}
