//! `sonar-slack keys status | rotate`: what the operator sees of the keys (ids, never keys).

use sea_orm::DatabaseConnection;

use super::KeysCmd;
use crate::config::Settings;
use crate::crypto::Sealer;
use crate::keys::{self, KeySource, Rotation};

pub async fn run(db: &DatabaseConnection, settings: &Settings, cmd: KeysCmd) -> anyhow::Result<()> {
    match cmd {
        KeysCmd::Status => status(db, settings).await,
        KeysCmd::Rotate => {
            let done = keys::rotate(db, settings).await?;
            println!("{}", describe(&done));
            Ok(())
        }
    }
}

async fn status(db: &DatabaseConnection, settings: &Settings) -> anyhow::Result<()> {
    let source = KeySource::of(settings);
    let sealer: Option<Sealer> = match &source {
        KeySource::Configured => keys::configured_sealer(settings)?,
        KeySource::File(path) => keys::file_sealer(path)?,
    };
    let mut counts = keys::census(db).await?;
    println!("keys: {}", source.describe());
    let Some(sealer) = sealer else {
        println!("  no key file yet (the service makes one at its first start)");
        println!("  {} stored secrets", counts.values().sum::<usize>());
        return Ok(());
    };
    let ring = sealer.keyring();
    for (i, key) in ring.keys().iter().enumerate() {
        let n = counts.remove(&Some(key.id())).unwrap_or(0);
        let role = if i == 0 {
            "seals new secrets"
        } else {
            "older key, opens only"
        };
        println!("  {}  {role:<22} {n} secrets", key.id());
    }
    for (id, n) in counts {
        match id {
            // Values from before key ids open with whichever key sealed them.
            None => println!(
                "  {:<16}  {:<22} {n} secrets",
                "(no key id)", "sealed before key ids"
            ),
            Some(id) => println!("  {id}  {:<22} {n} secrets", "NOT AMONG THE KEYS"),
        }
    }
    if ring.keys().len() > 1 {
        println!(
            "a rotation is under way or unfinished: run `sonar-slack keys rotate` to re-seal everything under {} and retire the older keys",
            ring.primary().id()
        );
    }
    Ok(())
}

fn describe(done: &Rotation) -> String {
    let counts: Vec<String> = done
        .resealed
        .iter()
        .map(|(kind, n)| format!("{kind} {n}"))
        .collect();
    let total: usize = done.resealed.values().sum();
    let resealed = if counts.is_empty() {
        "nothing left to re-seal".to_owned()
    } else {
        format!("re-sealed {total} secrets ({})", counts.join(", "))
    };
    let retired: Vec<String> = done.retired.iter().map(ToString::to_string).collect();
    let verb = if done.resumed {
        "finished the interrupted rotation to"
    } else {
        "rotated to"
    };
    match &done.source {
        KeySource::File(path) => format!(
            "{verb} key {}: {resealed}; retired key {} removed from {}. Back up the key file now.",
            done.key,
            retired.join(", "),
            path.display()
        ),
        KeySource::Configured if retired.is_empty() => format!(
            "every secret is sealed with the configured key {}: {resealed}",
            done.key
        ),
        KeySource::Configured => format!(
            "every secret is sealed with the configured key {}: {resealed}. Remove key {} (SONAR_SLACK_PREVIOUS_ENCRYPTION_KEYS) from the configuration and restart.",
            done.key,
            retired.join(", ")
        ),
    }
}
