//! Key rotation: a new key seals every stored secret. Each step leaves a state the next start (or a
//! second `keys rotate`) handles: the key file gains the new key before any secret is re-sealed, and
//! loses the old ones only after none is left under them.

use std::collections::BTreeMap;

use anyhow::Context as _;
use sea_orm::{DatabaseConnection, TransactionTrait};
use secrecy::ExposeSecret;

use super::{KeySource, check_all, configured_sealer};
use crate::config::Settings;
use crate::crypto::{Key, KeyId, Sealer, key_id_of, read_keys, write_keys};
use crate::store::sealed;

/// Re-sealing passes before giving up on secrets that keep changing under us.
const PASSES: usize = 5;

/// Secrets re-sealed per transaction.
const BATCH: usize = 200;

/// What a rotation did.
#[derive(Debug)]
pub struct Rotation {
    /// The key every secret is now sealed with.
    pub key: KeyId,
    /// Whether an interrupted rotation was carried on (no new key was made).
    pub resumed: bool,
    /// Secrets re-sealed, by kind.
    pub resealed: BTreeMap<&'static str, usize>,
    /// Keys no longer needed: dropped from the key file, or to be removed from the configuration.
    pub retired: Vec<KeyId>,
    pub source: KeySource,
}

/// One pass of re-sealing.
#[derive(Debug, Default)]
pub struct Pass {
    pub resealed: BTreeMap<&'static str, usize>,
    /// Secrets that changed while being re-sealed (left for the next pass).
    pub changed: usize,
}

/// Rotates to a new key (key file), or re-seals everything under the configured key.
pub async fn rotate(db: &DatabaseConnection, settings: &Settings) -> anyhow::Result<Rotation> {
    let source = KeySource::of(settings);
    match &source {
        KeySource::File(path) => rotate_file(db, path, source.clone()).await,
        KeySource::Configured { .. } => {
            let sealer = configured_sealer(settings)?
                .context("the encryption key is configured but cannot be read")?;
            check_all(db, &sealer, &source).await?;
            let ring = sealer.keyring();
            let stale = super::census(db)
                .await?
                .into_iter()
                .any(|(id, _)| id != Some(ring.primary().id()));
            if ring.keys().len() == 1 && !stale {
                anyhow::bail!(
                    "every secret is already sealed with the configured key {}. To rotate it: put a new key (`openssl rand -base64 32`) in SONAR_SLACK_ENCRYPTION_KEY and the current one in SONAR_SLACK_PREVIOUS_ENCRYPTION_KEYS, restart the service with both, then run `sonar-slack keys rotate`",
                    ring.primary().id()
                );
            }
            let resealed = reseal_all(db, &sealer).await?;
            Ok(Rotation {
                key: ring.primary().id(),
                resumed: false,
                resealed,
                retired: ring.keys()[1..].iter().map(Key::id).collect(),
                source,
            })
        }
    }
}

async fn rotate_file(
    db: &DatabaseConnection,
    path: &std::path::Path,
    source: KeySource,
) -> anyhow::Result<Rotation> {
    let Some(keys) = read_keys(path)? else {
        if sealed::all(db).await?.is_empty() {
            anyhow::bail!(
                "there is no key file at {} and nothing is sealed yet: the service makes the key file at its first start",
                path.display()
            );
        }
        anyhow::bail!(
            "there is no key file at {}, but this database holds sealed secrets: restore the key file that sealed them (or point SONAR_SLACK_KEY_FILE at it), then rotate",
            path.display()
        );
    };
    // Nothing is written unless every secret opens with the keys we have.
    check_all(db, &Sealer::from_keys(&keys[0], &keys[1..])?, &source).await?;
    let resumed = keys.len() > 1;
    let keys = if resumed {
        keys
    } else {
        let (_, fresh) = Key::generate();
        let mut all = vec![fresh];
        all.extend(keys);
        write_keys(path, &all, false)?;
        all
    };
    let sealer = Sealer::from_keys(&keys[0], &keys[1..])?;
    let resealed = reseal_all(db, &sealer).await?;
    write_keys(path, &keys[..1], false)?;
    let ring = sealer.keyring();
    Ok(Rotation {
        key: ring.primary().id(),
        resumed,
        resealed,
        retired: ring.keys()[1..].iter().map(Key::id).collect(),
        source,
    })
}

/// Passes until one finds nothing left to re-seal.
async fn reseal_all(
    db: &DatabaseConnection,
    sealer: &Sealer,
) -> anyhow::Result<BTreeMap<&'static str, usize>> {
    let mut total: BTreeMap<&'static str, usize> = BTreeMap::new();
    for _ in 0..PASSES {
        let pass = reseal_pass(db, sealer, None).await?;
        if pass.resealed.is_empty() && pass.changed == 0 {
            return Ok(total);
        }
        for (kind, n) in pass.resealed {
            *total.entry(kind).or_default() += n;
        }
    }
    anyhow::bail!(
        "some secrets kept changing while being re-sealed (tokens refreshed meanwhile); run `sonar-slack keys rotate` again: it carries on where this run stopped"
    )
}

/// Re-seals, under the sealing key, the stored secrets sealed under another key (at most `limit`).
/// Each is replaced only if unchanged since it was read.
pub async fn reseal_pass(
    db: &DatabaseConnection,
    sealer: &Sealer,
    limit: Option<usize>,
) -> anyhow::Result<Pass> {
    let primary = sealer.keyring().primary().id();
    let mut pass = Pass::default();
    let stale: Vec<_> = sealed::all(db)
        .await?
        .into_iter()
        .filter(|s| key_id_of(&s.value) != Some(primary))
        .take(limit.unwrap_or(usize::MAX))
        .collect();
    // A commit per batch, not per secret: fewer syncs, and a batch is re-sealed whole or not at all.
    for batch in stale.chunks(BATCH) {
        let txn = db.begin().await?;
        for s in batch {
            let context = s.place.context();
            let plain = sealer
                .open(&s.value, &context)
                .with_context(|| format!("cannot open {}", s.place.describe()))?;
            let fresh = sealer.seal(plain.expose_secret(), &context);
            if sealed::replace(&txn, &s.place, &s.value, &fresh).await? {
                *pass.resealed.entry(s.place.kind()).or_default() += 1;
            } else {
                pass.changed += 1;
            }
        }
        txn.commit().await?;
    }
    Ok(pass)
}
