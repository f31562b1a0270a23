//! Key management on a real database: start-up refuses keys that do not open every secret and
//! changes nothing; `keys rotate` re-seals everything, is carried on after an interruption, and
//! works with a key file or with configured keys.

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine;
use entity::workspace;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use secrecy::{ExposeSecret, SecretString};
use sonar_slack::config::Settings;
use sonar_slack::crypto::{Key, Sealer, key_id_of, read_keys, write_keys};
use sonar_slack::domain::types::ServerUrl;
use sonar_slack::keys;
use sonar_slack::startup::{load_sealer, open_database};
use sonar_slack::store::{catalog, links, sealed};

use crate::helpers::{SECRET, SERVER, TEAM, TOKEN, TestDb, databases, team};

const REFRESH: &str = "xoxe-1-refresh-token";
const USER_TOKEN: &str = "squ_user_token";

pub fn key_settings(db: &TestDb, key_file: &Path) -> Settings {
    let mut s = Settings::defaults();
    s.database_url = db.url.clone();
    s.key_file = Some(key_file.to_owned());
    s
}

/// A connection secret, a workspace's bot and refresh tokens and `links` linked accounts, sealed
/// with `sealer`. Returns every secret's plaintext by where it is stored.
pub async fn seed_secrets(
    db: &DatabaseConnection,
    sealer: &Sealer,
    links: usize,
) -> BTreeMap<String, String> {
    let url = ServerUrl::parse(SERVER).expect("url");
    let secret = sealer.seal(SECRET, &catalog::webhook_secret_context(url.as_str()));
    let connection = catalog::add_connection(db, &url, None, Some(secret))
        .await
        .expect("connection")
        .id;
    catalog::upsert_workspace(
        db,
        &team(),
        None,
        sealer.seal(TOKEN, &catalog::bot_token_context(TEAM)),
    )
    .await
    .expect("workspace");
    let refresh = sealer.seal(REFRESH, &catalog::refresh_token_context(TEAM));
    workspace::Entity::update_many()
        .col_expr(workspace::Column::RefreshTokenSealed, Expr::value(refresh))
        .filter(workspace::Column::TeamId.eq(TEAM))
        .exec(db)
        .await
        .expect("refresh token");
    for i in 0..links {
        let user = format!("U{i:08}");
        let context = links::user_token_context(TEAM, &user, connection);
        let token = sealer.seal(&format!("{USER_TOKEN}_{i}"), &context);
        links::link(db, TEAM, &user, connection, "login", None, token)
            .await
            .expect("link");
    }
    plaintexts(db, sealer).await
}

/// Every stored secret opened, by where it is stored.
pub async fn plaintexts(db: &DatabaseConnection, sealer: &Sealer) -> BTreeMap<String, String> {
    sealed::all(db)
        .await
        .expect("sealed values")
        .into_iter()
        .map(|s| {
            let plain = sealer
                .open(&s.value, &s.place.context())
                .unwrap_or_else(|e| panic!("{} does not open: {e}", s.place.describe()));
            (s.place.describe(), plain.expose_secret().to_owned())
        })
        .collect()
}

/// The stored sealed values themselves, by where they are stored.
pub async fn ciphertexts(db: &DatabaseConnection) -> BTreeMap<String, String> {
    sealed::all(db)
        .await
        .expect("sealed values")
        .into_iter()
        .map(|s| (s.place.describe(), s.value))
        .collect()
}

/// The key ids the stored values name.
async fn key_ids(db: &DatabaseConnection) -> Vec<Option<String>> {
    let mut ids: Vec<Option<String>> = sealed::all(db)
        .await
        .expect("sealed values")
        .iter()
        .map(|s| key_id_of(&s.value).map(|id| id.to_string()))
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

fn file_key_ids(path: &Path) -> Vec<String> {
    read_keys(path)
        .expect("key file")
        .expect("key file exists")
        .iter()
        .map(|k| Key::from_base64(k).expect("key").id().to_string())
        .collect()
}

fn encoded(byte: u8) -> SecretString {
    SecretString::from(base64::engine::general_purpose::STANDARD.encode([byte; 32]))
}

#[tokio::test]
async fn rotation_reseals_every_secret_and_an_interrupted_one_is_carried_on() {
    for db in databases().await {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("sonar-slack.key");
        let settings = key_settings(&db, &path);
        let conn = open_database(&settings).await.expect("database");
        let first = load_sealer(&settings, &conn).await.expect("key file made");
        let secrets = seed_secrets(&conn, &first, 4).await;
        assert_eq!(secrets.len(), 7, "[{}] {secrets:?}", db.kind);
        let first_id = first.keyring().primary().id().to_string();
        assert_eq!(key_ids(&conn).await, vec![Some(first_id.clone())]);

        // A rotation stopped after it wrote the new key and re-sealed two secrets: what
        // `keys rotate` does first, cut short.
        let (fresh, fresh_encoded) = Key::generate();
        let mut file = vec![fresh_encoded];
        file.extend(read_keys(&path).expect("read").expect("exists"));
        write_keys(&path, &file, false).expect("write");
        let both = Sealer::from_keys(&file[0], &file[1..]).expect("keys");
        let pass = keys::reseal_pass(&conn, &both, Some(2))
            .await
            .expect("pass");
        assert_eq!(pass.resealed.values().sum::<usize>(), 2);
        assert_eq!(key_ids(&conn).await.len(), 2, "half-way: two keys in use");
        // The service starts in that state, and every secret opens.
        let started = load_sealer(&settings, &conn)
            .await
            .expect("starts half-way");
        assert_eq!(plaintexts(&conn, &started).await, secrets);

        let done = keys::rotate(&conn, &settings).await.expect("carried on");
        assert!(done.resumed, "[{}] no second new key", db.kind);
        assert_eq!(done.key, fresh.id());
        assert_eq!(done.resealed.values().sum::<usize>(), 5);
        assert_eq!(done.retired.len(), 1);
        assert_eq!(file_key_ids(&path), vec![fresh.id().to_string()]);
        assert_eq!(key_ids(&conn).await, vec![Some(fresh.id().to_string())]);
        let after = load_sealer(&settings, &conn).await.expect("starts after");
        assert_eq!(plaintexts(&conn, &after).await, secrets);

        // Again: another new key, everything moves, nothing is lost.
        let again = keys::rotate(&conn, &settings).await.expect("rotates again");
        assert!(!again.resumed);
        assert_ne!(again.key, fresh.id());
        assert_eq!(again.resealed.values().sum::<usize>(), 7);
        assert_eq!(file_key_ids(&path), vec![again.key.to_string()]);
        assert_eq!(key_ids(&conn).await, vec![Some(again.key.to_string())]);
        let last = load_sealer(&settings, &conn).await.expect("starts last");
        assert_eq!(plaintexts(&conn, &last).await, secrets);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_key_that_does_not_open_every_secret_stops_start_and_rotation_and_changes_nothing() {
    for db in databases().await {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("sonar-slack.key");
        let settings = key_settings(&db, &path);
        let conn = open_database(&settings).await.expect("database");
        let right = load_sealer(&settings, &conn).await.expect("key file made");
        seed_secrets(&conn, &right, 2).await;
        let right_id = right.keyring().primary().id().to_string();
        let right_file = std::fs::read(&path).expect("key file");

        // One secret sealed under a key nobody has.
        let stray = Sealer::from_base64(&encoded(3)).expect("key");
        let stray_id = stray.keyring().primary().id().to_string();
        let place = sealed::Place::BotToken { team: TEAM.into() };
        let old = ciphertexts(&conn).await[&place.describe()].clone();
        let foreign = stray.seal(TOKEN, &place.context());
        assert!(
            sealed::replace(&conn, &place, &old, &foreign)
                .await
                .expect("replace")
        );
        let stored = ciphertexts(&conn).await;

        let err = load_sealer(&settings, &conn).await.expect_err("refused");
        let err = format!("{err:#}");
        assert!(err.contains("1 of the 5 secrets"), "{err}");
        assert!(
            err.contains(&format!(
                "key id {stray_id}: the bot token of workspace {TEAM}"
            )),
            "{err}"
        );
        assert!(
            err.contains("Nothing was changed") && !err.contains(TOKEN),
            "{err}"
        );
        let err = keys::rotate(&conn, &settings).await.expect_err("refused");
        assert!(format!("{err:#}").contains(&stray_id), "{err:#}");
        assert_eq!(
            ciphertexts(&conn).await,
            stored,
            "[{}] no secret rewritten",
            db.kind
        );
        assert_eq!(
            std::fs::read(&path).expect("key file"),
            right_file,
            "key file untouched"
        );

        // The whole key file replaced by another key: every secret is named, by the key it needs.
        assert!(
            sealed::replace(&conn, &place, &foreign, &old)
                .await
                .expect("put back")
        );
        let stored = ciphertexts(&conn).await;
        write_keys(&path, &[encoded(9)], false).expect("write");
        let err = format!(
            "{:#}",
            load_sealer(&settings, &conn).await.expect_err("refused")
        );
        assert!(
            err.contains("5 of the 5 secrets") && err.contains(&right_id),
            "{err}"
        );
        assert!(keys::rotate(&conn, &settings).await.is_err());
        assert_eq!(ciphertexts(&conn).await, stored);
        assert_eq!(file_key_ids(&path).len(), 1, "rotation wrote no key");
        db.cleanup().await;
    }
}

#[tokio::test]
async fn configured_keys_rotate_through_previous_encryption_keys() {
    for db in databases().await {
        let dir = tempfile::tempdir().expect("dir");
        let mut old = key_settings(&db, &dir.path().join("unused.key"));
        old.encryption_key = Some(encoded(1));
        let conn = open_database(&old).await.expect("database");
        let sealer = load_sealer(&old, &conn).await.expect("old key");
        let secrets = seed_secrets(&conn, &sealer, 3).await;
        let err = format!(
            "{:#}",
            keys::rotate(&conn, &old).await.expect_err("nothing to do")
        );
        assert!(
            err.contains("SONAR_SLACK_PREVIOUS_ENCRYPTION_KEYS"),
            "{err}"
        );

        // The new key configured alone does not open the old secrets.
        let mut new_only = old.clone();
        new_only.encryption_key = Some(encoded(2));
        assert!(load_sealer(&new_only, &conn).await.is_err());
        // With the old one as a previous key it starts, and rotation moves everything.
        let mut both = new_only.clone();
        both.previous_encryption_keys = Some(SecretString::from(format!(
            " {} , ",
            encoded(1).expose_secret()
        )));
        load_sealer(&both, &conn).await.expect("starts with both");
        let done = keys::rotate(&conn, &both).await.expect("rotates");
        assert_eq!(done.resealed.values().sum::<usize>(), secrets.len());
        assert_eq!(done.retired.len(), 1);
        assert!(
            !dir.path().join("unused.key").exists(),
            "no key file with configured keys"
        );
        // Now the new key alone opens everything, and the old one nothing.
        let new = load_sealer(&new_only, &conn).await.expect("new key alone");
        assert_eq!(plaintexts(&conn, &new).await, secrets);
        assert!(load_sealer(&old, &conn).await.is_err());
        db.cleanup().await;
    }
}
