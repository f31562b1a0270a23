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
        KeySource::Configured { .. } => keys::configured_sealer(settings)?,
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
    let mut under_older = 0;
    for (i, key) in ring.keys().iter().enumerate() {
        let n = counts.remove(&Some(key.id())).unwrap_or(0);
        let role = if i == 0 {
            "seals new secrets"
        } else {
            under_older += n;
            "older key, opens only"
        };
        println!("  {}  {role:<22} {n} secrets", key.id());
    }
    let mut missing = 0;
    for (id, n) in counts {
        match id {
            // Values from before key ids open with whichever key sealed them.
            None => {
                under_older += n;
                println!(
                    "  {:<16}  {:<22} {n} secrets",
                    "(no key id)", "sealed before key ids"
                );
            }
            Some(id) => {
                missing += n;
                println!("  {id}  {:<22} {n} secrets", "MISSING: not among the keys");
            }
        }
    }
    if missing > 0 {
        anyhow::bail!(
            "{missing} secrets are sealed with keys that are not among {}: the service will not start; restore the key that sealed them",
            source.describe()
        );
    }
    let older = ring.keys().len() > 1;
    match &source {
        _ if under_older > 0 => println!(
            "{under_older} secrets are not yet under {}: run `sonar-slack keys rotate` to re-seal them",
            ring.primary().id()
        ),
        KeySource::File(_) if older => println!(
            "the older keys seal nothing now: run `sonar-slack keys rotate` to finish the rotation and remove them from the key file"
        ),
        KeySource::Configured { .. } if older => println!(
            "the older keys seal nothing now: remove SONAR_SLACK_PREVIOUS_ENCRYPTION_KEYS from the configuration"
        ),
        _ => {}
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
        KeySource::Configured { .. } if retired.is_empty() => format!(
            "every secret is sealed with the configured key {}: {resealed}",
            done.key
        ),
        KeySource::Configured { .. } => format!(
            "every secret is sealed with the configured key {}: {resealed}. Remove key {} (SONAR_SLACK_PREVIOUS_ENCRYPTION_KEYS) from the configuration and restart.",
            done.key,
            retired.join(", ")
        ),
    }
}
