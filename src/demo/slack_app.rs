//! The demo's second part: the README's Slack-app setup, step by step, against a fake Slack and a
//! fake SonarQube: manifest, secrets, connection, install, connect, subscribe, a failing gate
//! posted to the channel, list.

use std::net::TcpListener;
use std::time::Duration;

use anyhow::Context;
use base64::Engine;
use secrecy::SecretString;
use serde_json::Value;

use crate::config::Settings;
use crate::crypto::Sealer;
use crate::domain::signature::sonar_signature;
use crate::domain::types::ServerUrl;
use crate::http::webhooks::SIGNATURE_HEADER;
use crate::startup::{Application, open_database};
use crate::store::{catalog, deliveries};
use crate::testing::fake_slack::{FakeSlack, FakeSlackConfig, InstallGrant};
use crate::testing::fake_sonar::FakeSonar;
use crate::testing::slack_side::{SlackSide, first_paragraph, install, link_account, link_in};

const TEAM: &str = "T0DEMOAPP1";
const USER: &str = "U0DEMOUSER";
const CHANNEL: &str = "C0BUILDS01";
const PROJECT: &str = "acme:payments-api";
const HIDDEN: &str = "acme:secret-sauce";
const SONAR_TOKEN: &str = "squ_demo_user_token";

pub async fn run(failed: &str) -> anyhow::Result<()> {
    println!(
        "\n── Part 2: the Slack app, set up as the README says, against a fake Slack and a fake SonarQube ──\n"
    );
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let slack = FakeSlack::start(FakeSlackConfig::default()).context("fake Slack")?;
    let sonar = FakeSonar::start().context("fake SonarQube")?;
    let (client_id, client_secret) = ("1234567890.0987654321", crate::crypto::random_token());
    let signing_secret = crate::crypto::random_token();
    let webhook_secret = crate::crypto::random_token();
    slack.set_client(client_id, &client_secret);
    let mut grant = InstallGrant::team(TEAM, &format!("xoxb-{}", crate::crypto::random_token()));
    grant.team_name = Some("Acme (demo)".into());
    grant.installer_user_id = USER.into();
    slack.add_install("demo-approval", grant);
    sonar.add_user(SONAR_TOKEN, "alice", "Alice");
    sonar.add_project(PROJECT, "Payments API", "OK");
    sonar.add_project(HIDDEN, "Secret Sauce", "ERROR");
    sonar.grant_browse("alice", PROJECT);

    let listener = TcpListener::bind("127.0.0.1:0")?;
    let base = format!("http://{}", listener.local_addr()?);
    let mut settings = Settings::defaults();
    settings.database_url = format!("sqlite://{}?mode=rwc", dir.path().join("app.db").display());
    settings.slack_api_url = slack.api_url();
    settings.slack_authorize_url = format!("{}/oauth/v2/authorize", slack.api_url());
    settings.public_url = Some(base.clone());
    settings.slack_client_id = Some(client_id.into());
    settings.slack_client_secret = Some(SecretString::from(client_secret));
    settings.slack_signing_secret = Some(SecretString::from(signing_secret.clone()));
    slack.set_redirect_uri(&format!("{base}/slack/oauth/callback"));

    let scopes = settings.bot_scopes();
    let scopes: Vec<&str> = scopes.iter().map(String::as_str).collect();
    let manifest = crate::slack::manifest::manifest(
        &base,
        &settings.slack_command,
        &settings.slack_app_name,
        &scopes,
    );
    println!("1. sonar-slack manifest --public-url {base}");
    println!(
        "   slash command {} → {}",
        manifest["features"]["slash_commands"][0]["command"],
        manifest["features"]["slash_commands"][0]["url"]
    );
    println!(
        "   redirect URL  {}",
        manifest["oauth_config"]["redirect_urls"][0]
    );
    println!(
        "   events        {} for {}",
        manifest["settings"]["event_subscriptions"]["request_url"],
        manifest["settings"]["event_subscriptions"]["bot_events"]
    );
    println!(
        "   interactivity {}",
        manifest["settings"]["interactivity"]["request_url"]
    );
    println!(
        "   bot scopes    {}",
        manifest["oauth_config"]["scopes"]["bot"]
    );
    println!(
        "2. secrets set: SONAR_SLACK_SLACK_CLIENT_ID={client_id}, SONAR_SLACK_SLACK_CLIENT_SECRET=…, SONAR_SLACK_SLACK_SIGNING_SECRET=…, SONAR_SLACK_PUBLIC_URL={base}"
    );

    let db = open_database(&settings).await?;
    let key = base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>());
    let sealer = Sealer::from_base64(&SecretString::from(key))?;
    let server_url = ServerUrl::parse(&sonar.url())?;
    let sealed = sealer.seal(
        &webhook_secret,
        &catalog::webhook_secret_context(server_url.as_str()),
    );
    let connection = catalog::add_connection(&db, &server_url, None, Some(sealed)).await?;
    println!("3. sonar-slack connections add --server-url {server_url}   (webhook secret set)");

    let app = Application::build_with(settings, db.clone(), sealer, listener)?;
    let server = app.handle();
    let running = actix_web::rt::spawn(app.run_until_stopped());

    let installed = install(&base, "demo-approval").await?;
    println!(
        "4. open {base}/slack/install → Slack's approval page ({}…) → back: HTTP {} “{}”",
        installed
            .authorize_url
            .split('?')
            .next()
            .unwrap_or_default(),
        installed.status,
        first_paragraph(&installed.page)
    );

    let side = SlackSide::new(&base, &signing_secret, TEAM);
    let (_, answer) = side.command(USER, CHANNEL, "connect", "").await?;
    let link = link_in(&answer).context("connect gave no link")?;
    println!("5. /sonarqube connect → only you see: “{}”", short(&answer));
    let (status, page) = link_account(&link, connection.id, SONAR_TOKEN).await?;
    println!(
        "   the link's page, token pasted → HTTP {status} “{}”",
        first_paragraph(&page)
    );

    let commands = [
        format!("subscribe {PROJECT}"),
        format!("subscribe {HIDDEN}"),
        "list".to_owned(),
    ];
    for (n, text) in (6..).zip(commands) {
        let (_, answer) = side.command(USER, CHANNEL, &text, "").await?;
        let to = if answer["response_type"] == "in_channel" {
            "the channel sees"
        } else {
            "only you see"
        };
        println!("{n}. /sonarqube {text} → {to}: “{}”", short(&answer));
    }

    let body = failing_body(failed, &server_url, PROJECT)?;
    let res = reqwest::Client::new()
        .post(format!("{base}/webhooks/sonarqube"))
        .header("Content-Type", "application/json; charset=utf-8")
        .header(
            SIGNATURE_HEADER,
            sonar_signature(webhook_secret.as_bytes(), &body),
        )
        .body(body)
        .send()
        .await?;
    let report: Value = res.json().await.unwrap_or(Value::Null);
    println!(
        "9. SonarQube's webhook: the gate fails → {} ({})",
        report["decision"],
        report["detail"].as_str().unwrap_or_default()
    );
    let posted = slack
        .wait_for_messages(1, Duration::from_secs(30))
        .await
        .map_err(|e| anyhow::anyhow!("the channel got nothing: {e}"))?;
    println!("   posted to {CHANNEL}: {}", posted[0].text);

    while !deliveries::pending(&db).await?.is_empty() {
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    server.stop(true).await;
    let _ = running.await;
    slack.stop();
    sonar.stop();
    Ok(())
}

/// The fixture as this project's failing analysis on the fake SonarQube.
fn failing_body(fixture: &str, server: &ServerUrl, project: &str) -> anyhow::Result<Vec<u8>> {
    let mut v: Value = serde_json::from_str(fixture)?;
    v["serverUrl"] = server.as_str().into();
    v["project"]["key"] = project.into();
    v["project"]["name"] = "Payments API".into();
    Ok(serde_json::to_vec(&v)?)
}

/// An answer's text on one line, Slack's link syntax shown as its label.
fn short(answer: &Value) -> String {
    let text = answer["text"].as_str().unwrap_or_default();
    let line = text.lines().collect::<Vec<_>>().join(" / ");
    match (line.find('<'), line.find('|')) {
        (Some(a), Some(b)) if a < b && line[a..].starts_with("<http") => {
            format!("{}{}", &line[..a], &line[b + 1..]).replacen('>', "", 1)
        }
        _ => line,
    }
}
