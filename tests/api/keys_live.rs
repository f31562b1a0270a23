//! Key rotation with real processes: a running `serve` follows a key file rotated under it, and a
//! `keys rotate` killed with SIGKILL at random points leaves every secret readable and is finished
//! by running it again.

use std::process::{Command, Stdio};
use std::time::Instant;

use rand::{Rng, SeedableRng};
use sonar_slack::crypto::key_id_of;
use sonar_slack::domain::signature::sonar_signature;
use sonar_slack::domain::types::{ChannelId, ProjectKey};
use sonar_slack::startup::{load_sealer, open_database};
use sonar_slack::store::{catalog, sealed};

use crate::helpers::{
    FAILED, PASSED, PROJECT, SECRET, TEAM, TOKEN, WAIT, at, databases, fake_slack, team,
};
use crate::keys::{ciphertexts, key_settings, plaintexts, seed_secrets};
use crate::process::{BIN, Service, ServiceEnv};

/// Runs `sonar-slack keys rotate` to its end; returns what it printed.
fn rotate(env: &[(String, String)]) -> String {
    let out = Command::new(BIN)
        .args(["keys", "rotate"])
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .expect("keys rotate runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "keys rotate failed: {text}");
    text
}

#[tokio::test]
async fn a_running_service_follows_a_key_file_rotated_under_it() {
    for db in databases().await {
        let fake = fake_slack();
        fake.add_token(TOKEN, TEAM);
        let dir = tempfile::tempdir().expect("dir");
        let key_file = dir.path().join("sonar-slack.key");
        let settings = key_settings(&db, &key_file);
        let conn = open_database(&settings).await.expect("database");
        let sealer = load_sealer(&settings, &conn).await.expect("key file made");
        let secrets = seed_secrets(&conn, &sealer, 1).await;
        let connection = catalog::connection_by_url(
            &conn,
            &sonar_slack::domain::types::ServerUrl::parse(crate::helpers::SERVER).expect("url"),
        )
        .await
        .expect("read")
        .expect("connection")
        .id;
        catalog::subscribe(
            &conn,
            &team(),
            &ChannelId::parse("C0KEYS").expect("channel"),
            connection,
            &ProjectKey::parse(PROJECT).expect("project"),
            None,
        )
        .await
        .expect("subscribe");

        let env = ServiceEnv::new(&db, &fake.api_url(), dir.path())
            .unset("SONAR_SLACK_ENCRYPTION_KEY")
            .set("SONAR_SLACK_KEY_FILE", key_file.display());
        let service = Service::start(&env, 1).await;
        let client = reqwest::Client::new();
        let post = |body: Vec<u8>| {
            let request = client
                .post(format!("{}/webhooks/sonarqube", service.base))
                .header(
                    "X-Sonar-Webhook-HMAC-SHA256",
                    sonar_signature(SECRET.as_bytes(), &body),
                )
                .header("content-type", "application/json")
                .body(body);
            async move {
                let status = request.send().await.expect("webhook").status();
                assert!(status.is_success(), "webhook answered {status}");
            }
        };
        post(at(PASSED, 1)).await;
        post(at(FAILED, 2)).await;
        fake.wait_for_messages(1, WAIT).await.expect("first post");

        let before = ciphertexts(&conn).await;
        let printed = rotate(&env.vars);
        assert!(printed.contains("rotated to key"), "{printed}");
        let after = ciphertexts(&conn).await;
        assert!(
            before.iter().all(|(k, v)| after[k] != *v),
            "every secret re-sealed"
        );
        // The service opens the webhook secret and the bot token sealed under the new key.
        post(at(PASSED, 3)).await;
        let posts = fake
            .wait_for_messages(2, WAIT)
            .await
            .expect("post after rotation");
        assert_eq!(posts.len(), 2, "[{}]", db.kind);
        assert!(
            !service.output().contains("cannot be opened"),
            "{}",
            service.output()
        );
        let reread = load_sealer(&settings, &conn).await.expect("key file");
        assert_eq!(plaintexts(&conn, &reread).await, secrets);
        service.kill();
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_rotation_killed_at_random_points_loses_no_secret_and_is_finished_by_running_it_again() {
    let seed = std::env::var("SONAR_SLACK_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random::<u64>);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    for db in databases().await {
        let dir = tempfile::tempdir().expect("dir");
        let key_file = dir.path().join("sonar-slack.key");
        let settings = key_settings(&db, &key_file);
        let conn = open_database(&settings).await.expect("database");
        let sealer = load_sealer(&settings, &conn).await.expect("key file made");
        let secrets = seed_secrets(&conn, &sealer, 1000).await;
        let env = vec![
            ("SONAR_SLACK_DATABASE_URL".to_owned(), db.url.clone()),
            (
                "SONAR_SLACK_KEY_FILE".to_owned(),
                key_file.display().to_string(),
            ),
        ];
        // How long a whole rotation takes here, to kill the next ones somewhere inside it.
        let began = Instant::now();
        rotate(&env);
        let whole = began.elapsed();
        let mut interrupted = 0;
        for round in 1..=4 {
            let kill_after = whole.mul_f64(rng.random_range(0.0..1.0));
            let mut child = Command::new(BIN)
                .args(["keys", "rotate"])
                .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("keys rotate starts");
            tokio::time::sleep(kill_after).await;
            let finished = child.try_wait().expect("wait").is_some();
            let _ = child.kill();
            let _ = child.wait();
            // Whatever the moment, the service starts and every secret reads as before.
            let opened = load_sealer(&settings, &conn)
                .await
                .unwrap_or_else(|e| panic!("[{}] round {round}, seed {seed}: {e:#}", db.kind));
            assert_eq!(plaintexts(&conn, &opened).await, secrets, "seed {seed}");
            let ids: std::collections::BTreeSet<_> = sealed::all(&conn)
                .await
                .expect("values")
                .iter()
                .map(|s| key_id_of(&s.value))
                .collect();
            interrupted += usize::from(!finished && ids.len() > 1);
            println!(
                "key rotation [{}] round {round}: killed after {kill_after:?} of {whole:?}; {} key ids in use",
                db.kind,
                ids.len()
            );
            // Running it again finishes the job: one key, every secret under it.
            rotate(&env);
            let file = sonar_slack::crypto::read_keys(&key_file)
                .expect("read")
                .expect("file");
            assert_eq!(
                file.len(),
                1,
                "[{}] round {round}: old keys retired",
                db.kind
            );
            let reopened = load_sealer(&settings, &conn).await.expect("starts");
            let primary = reopened.keyring().primary().id();
            assert!(
                sealed::all(&conn)
                    .await
                    .expect("values")
                    .iter()
                    .all(|s| key_id_of(&s.value) == Some(primary))
            );
            assert_eq!(plaintexts(&conn, &reopened).await, secrets);
        }
        println!(
            "key rotation [{}]: {interrupted} of 4 kills landed mid-way (seed {seed})",
            db.kind
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn keys_status_names_key_ids_only_and_fails_when_a_secret_needs_a_missing_key() {
    let db = databases().await.remove(0);
    let dir = tempfile::tempdir().expect("dir");
    let key_file = dir.path().join("sonar-slack.key");
    let settings = key_settings(&db, &key_file);
    let conn = open_database(&settings).await.expect("database");
    let sealer = load_sealer(&settings, &conn).await.expect("key file made");
    seed_secrets(&conn, &sealer, 2).await;
    let env = [
        ("SONAR_SLACK_DATABASE_URL", db.url.as_str()),
        ("SONAR_SLACK_KEY_FILE", &key_file.display().to_string()),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()));
    let status = || {
        Command::new(BIN)
            .args(["keys", "status"])
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .expect("keys status runs")
    };
    let key_text = std::fs::read_to_string(&key_file).expect("key file");
    let id = sealer.keyring().primary().id().to_string();
    let out = status();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(&format!("{id}  seals new secrets      5 secrets")),
        "{text}"
    );
    assert!(
        key_text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .all(|k| !text.contains(k))
    );

    // Another key in the file: the secrets' key is named missing, and the command fails.
    sonar_slack::crypto::write_keys(&key_file, &[sonar_slack::crypto::Key::generate().1], false)
        .expect("write");
    let out = status();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains(&format!("{id}  MISSING: not among the keys 5 secrets")),
        "{text}"
    );
    assert!(text.contains("the service will not start"), "{text}");
    db.cleanup().await;
}
