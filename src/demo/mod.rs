//! `sonar-slack demo`: the whole pipeline on real SonarQube webhook bodies (shipped in the binary),
//! a temporary SQLite database and the built-in fake Slack; prints each decision and every message.
//! Then the Slack app's setup as the README tells it, against a fake Slack and a fake SonarQube.

mod metrics;
mod slack_app;

use std::net::TcpListener;
use std::time::Duration;

use anyhow::Context;
use base64::Engine;
use secrecy::SecretString;
use serde_json::Value;

use crate::config::Settings;
use crate::crypto::Sealer;
use crate::domain::signature::sonar_signature;
use crate::domain::types::{ChannelId, ProjectKey, ServerUrl, TeamId};
use crate::http::webhooks::SIGNATURE_HEADER;
use crate::startup::{Application, open_database};
use crate::store::{catalog, deliveries};
use crate::testing::fake_slack::{FakeSlack, FakeSlackConfig, ReceivedMessage, Scripted};

const PASSED: &str = include_str!("../../tests/fixtures/sonarqube/main-branch-passed.json");
const FAILED: &str = include_str!("../../tests/fixtures/sonarqube/main-branch-failed.json");
const FAILED_NO_VALUE: &str =
    include_str!("../../tests/fixtures/sonarqube/failed-condition-without-value.json");
const PULL_REQUEST: &str = include_str!("../../tests/fixtures/sonarqube/pull-request.json");

const PROJECT: &str = "acme:payments-api";
const SECRET: &str = "demo-webhook-secret";
const TEAM: &str = "T0DEMO0001";
const TOKEN: &str = "xoxb-demo-token";
const CHANNELS: [&str; 2] = ["C0ALERTS01", "C0PAYMENTS"];

/// One webhook the demo sends.
struct Step {
    what: &'static str,
    body: Vec<u8>,
}

pub async fn run() -> anyhow::Result<()> {
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let fake =
        FakeSlack::start(FakeSlackConfig::default()).context("cannot start the fake Slack")?;
    fake.add_token(TOKEN, TEAM);
    // Slack rate-limits the second channel's first post once; the service waits and sends again.
    fake.script(
        CHANNELS[1],
        [Scripted::RateLimited {
            retry_after: Some("1".into()),
        }],
    );

    let mut settings = Settings::defaults();
    settings.database_url = format!("sqlite://{}?mode=rwc", dir.path().join("demo.db").display());
    settings.slack_api_url = fake.api_url();
    let key = base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>());
    let sealer = Sealer::from_base64(&SecretString::from(key))?;
    let db = open_database(&settings).await?;

    let steps = steps()?;
    let servers = ["http://localhost:9000", "https://example.com/sonarqube"];
    let project = ProjectKey::parse(PROJECT)?;
    let team = TeamId::parse(TEAM)?;
    catalog::upsert_workspace(
        &db,
        &team,
        Some("Demo workspace"),
        sealer.seal(TOKEN, &catalog::bot_token_context(TEAM)),
    )
    .await?;
    for server in servers {
        let url = ServerUrl::parse(server)?;
        let sealed = sealer.seal(SECRET, &catalog::webhook_secret_context(url.as_str()));
        let conn = catalog::add_connection(&db, &url, None, Some(sealed)).await?;
        for channel in CHANNELS {
            catalog::subscribe(
                &db,
                &team,
                &ChannelId::parse(channel)?,
                conn.id,
                &project,
                Some("demo"),
            )
            .await?;
        }
    }
    println!("sonar-slack demo");
    println!("  database   {}", dir.path().join("demo.db").display());
    println!("  fake Slack {}", fake.api_url());
    println!(
        "  project    {PROJECT}, subscribed by {} and {} in {TEAM}",
        CHANNELS[0], CHANNELS[1]
    );
    println!("  webhooks   signed with HMAC-SHA256, secret {SECRET:?}");
    println!(
        "  Slack      answers {}'s first post with 429 Retry-After: 1\n",
        CHANNELS[1]
    );

    let listener = TcpListener::bind("127.0.0.1:0")?;
    let app = Application::build_with(settings, db.clone(), sealer, listener)?;
    let base = format!("http://127.0.0.1:{}", app.port());
    let server = app.handle();
    let running = actix_web::rt::spawn(app.run_until_stopped());

    let client = reqwest::Client::new();
    for (i, step) in steps.iter().enumerate() {
        let response = client
            .post(format!("{base}/webhooks/sonarqube"))
            .header("Content-Type", "application/json; charset=utf-8")
            .header(
                SIGNATURE_HEADER,
                sonar_signature(SECRET.as_bytes(), &step.body),
            )
            .body(step.body.clone())
            .send()
            .await?;
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        let verdict = if status.is_success() {
            match answer["decision"].as_str() {
                Some("notified") => format!(
                    "NOTIFIED {} channels: {}",
                    answer["channels"],
                    answer["detail"].as_str().unwrap_or("")
                ),
                Some(_) => format!("no message, {}", answer["detail"].as_str().unwrap_or("")),
                None => format!("HTTP {status}"),
            }
        } else {
            format!(
                "REJECTED (HTTP {}): {}",
                status.as_u16(),
                answer["message"].as_str().unwrap_or("")
            )
        };
        println!("{}. {:<58} → {verdict}", i + 1, step.what);
    }

    let expected = 2 * CHANNELS.len();
    let messages = fake
        .wait_for_messages(expected, Duration::from_secs(60))
        .await
        .map_err(|e| {
            anyhow::anyhow!("Slack did not receive the {expected} expected messages: {e}")
        })?;
    println!("\nThe fake Slack received {} message(s):", messages.len());
    for m in &messages {
        print_message(m);
    }
    // Let the channels record what Slack answered, then stop cleanly.
    while !deliveries::pending(&db).await?.is_empty() {
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    metrics::show(&client, &base, expected).await?;
    server.stop(true).await;
    let _ = running.await;
    fake.stop();
    slack_app::run(FAILED).await
}

fn steps() -> anyhow::Result<Vec<Step>> {
    let at = |minute: u32| format!("2026-12-01T09:{minute:02}:00+0100");
    let adapt = |raw: &str, minute: u32, edit: &dyn Fn(&mut Value)| -> anyhow::Result<Vec<u8>> {
        let mut v: Value = serde_json::from_str(raw)?;
        v["project"]["key"] = Value::from(PROJECT);
        v["project"]["name"] = Value::from("Payments API");
        v["analysedAt"] = Value::from(at(minute));
        v["changedAt"] = Value::from(at(minute));
        edit(&mut v);
        Ok(serde_json::to_vec_pretty(&v)?)
    };
    let keep = |_: &mut Value| {};
    Ok(vec![
        Step {
            what: "main-branch-passed.json (first status seen)",
            body: adapt(PASSED, 0, &keep)?,
        },
        Step {
            what: "main-branch-failed.json (gate breaks)",
            body: adapt(FAILED, 10, &keep)?,
        },
        Step {
            what: "failed-condition-without-value.json (still failing)",
            body: adapt(FAILED_NO_VALUE, 20, &keep)?,
        },
        Step {
            what: "pull-request.json (a pull request)",
            body: adapt(PULL_REQUEST, 25, &keep)?,
        },
        Step {
            what: "main-branch-passed.json on branch feature/login",
            body: adapt(PASSED, 30, &|v| {
                v["branch"] =
                    serde_json::json!({"name": "feature/login", "type": "BRANCH", "isMain": false});
            })?,
        },
        Step {
            what: "main-branch-passed.json (gate recovers)",
            body: adapt(PASSED, 40, &keep)?,
        },
        Step {
            what: "a truncated body (malformed JSON)",
            body: br#"{"serverUrl": "http://localhost:9000", "project": {"key": "#.to_vec(),
        },
    ])
}

/// Prints a message roughly as Slack would show it.
fn print_message(m: &ReceivedMessage) {
    println!("\n┌─ #{} (ts {})", m.channel, m.ts);
    for block in m.blocks.as_array().into_iter().flatten() {
        match block["type"].as_str() {
            Some("header") => println!("│ ■ {}", block["text"]["text"].as_str().unwrap_or("")),
            Some("section") => {
                if let Some(text) = block["text"]["text"].as_str() {
                    for line in text.lines() {
                        println!("│ {line}");
                    }
                }
                for field in block["fields"].as_array().into_iter().flatten() {
                    println!("│ {}", field["text"].as_str().unwrap_or(""));
                }
            }
            Some("context") => {
                for el in block["elements"].as_array().into_iter().flatten() {
                    println!("│ ({})", el["text"].as_str().unwrap_or(""));
                }
            }
            Some("actions") => {
                for el in block["elements"].as_array().into_iter().flatten() {
                    println!(
                        "│ [{}] → {}",
                        el["text"]["text"].as_str().unwrap_or(""),
                        el["url"].as_str().unwrap_or("")
                    );
                }
            }
            Some("divider") => println!("│ ───"),
            _ => {}
        }
    }
    println!("└─ fallback text: {}", m.text);
}
