//! Runs the real binary with every log level on (`RUST_LOG=trace`) through the whole Slack-app
//! story, and checks that no token, secret, code or key shows up in what it printed.

use std::process::{Child, Command, Stdio};

use base64::Engine;
use sea_orm::Database;
use sonar_slack::store::catalog;

use super::slack_story::{story, story_secrets};
use super::slack_world::*;

const BIN: &str = env!("CARGO_BIN_EXE_sonar-slack");

struct Serving(Child);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn no_secret_reaches_the_logs_at_any_level() {
    let dir = tempfile::tempdir().expect("dir");
    let db_url = format!("sqlite://{}?mode=rwc", dir.path().join("logs.db").display());
    let key = base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let fakes = Fakes::start();
    let log_path = dir.path().join("service.log");
    let env = |cmd: &mut Command| {
        cmd.env("RUST_LOG", "trace")
            .env("SONAR_SLACK_DATABASE_URL", &db_url)
            .env("SONAR_SLACK_ENCRYPTION_KEY", &key)
            .env("SONAR_SLACK_LISTEN", format!("127.0.0.1:{port}"))
            .env("SONAR_SLACK_SLACK_API_URL", fakes.slack.api_url())
            .env("SONAR_SLACK_SLACK_CLIENT_ID", CLIENT_ID)
            .env("SONAR_SLACK_SLACK_CLIENT_SECRET", CLIENT_SECRET)
            .env("SONAR_SLACK_SLACK_SIGNING_SECRET", SIGNING_SECRET)
            .env(
                "SONAR_SLACK_SLACK_AUTHORIZE_URL",
                format!("{}/oauth/v2/authorize", fakes.slack.api_url()),
            );
    };
    let log = || {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .expect("log file")
    };

    // The operator adds the SonarQube connection with the CLI, as the README does.
    let mut add = Command::new(BIN);
    env(&mut add);
    let added = add
        .args(["connections", "add", "--server-url", &fakes.sonar.url()])
        .env("SONAR_SLACK_WEBHOOK_SECRET", WEBHOOK_SECRET)
        .stdout(Stdio::from(log()))
        .stderr(Stdio::from(log()))
        .status()
        .expect("connections add runs");
    assert!(
        added.success(),
        "{}",
        std::fs::read_to_string(&log_path).unwrap_or_default()
    );

    let mut serve = Command::new(BIN);
    env(&mut serve);
    let _serving = Serving(
        serve
            .arg("serve")
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

    let db = Database::connect(&db_url).await.expect("db");
    let connection_id = catalog::connections(&db).await.expect("db")[0].id;
    let link = story(&World {
        base: base.clone(),
        db: &db,
        fakes: &fakes,
        connection_id,
    })
    .await;
    drop(_serving);
    fakes.stop();

    let printed = std::fs::read_to_string(&log_path).expect("log");
    // Every level was on: the check below is about real output, not an empty file.
    for level in ["TRACE", "DEBUG", "INFO", "WARN"] {
        assert!(
            printed.contains(level),
            "no {level} line in {} bytes of log",
            printed.len()
        );
    }
    let link_token = link.rsplit('/').next().expect("token").to_owned();
    let mut secrets: Vec<String> = story_secrets().into_iter().map(str::to_owned).collect();
    secrets.push(key.clone());
    secrets.push(link_token);
    for secret in &secrets {
        if let Some(at) = printed.find(secret.as_str()) {
            let from = printed[..at].rfind('\n').map_or(0, |n| n + 1);
            let line = printed[from..].lines().next().unwrap_or_default();
            panic!("a secret is in the log: {line}");
        }
    }
    eprintln!(
        "log capture: {} lines, {} bytes at RUST_LOG=trace; none of {} secrets found",
        printed.lines().count(),
        printed.len(),
        secrets.len()
    );
}
