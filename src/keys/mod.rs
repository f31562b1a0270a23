//! Key management: which keys seal the stored secrets, the start-up check that every one opens, and
//! rotation to a new key (see `rotate`).

mod rotate;

pub use rotate::{Rotation, reseal_pass, rotate};

use std::collections::BTreeMap;
use std::path::PathBuf;

use sea_orm::ConnectionTrait;
use secrecy::SecretString;

use crate::config::Settings;
use crate::crypto::{CryptoError, KeyId, Sealer, default_key_path, key_id_of, read_keys};
use crate::store::sealed::{self, Sealed};

/// Where the keys come from.
#[derive(Clone, Debug)]
pub enum KeySource {
    /// `encryption_key` (and maybe `previous_encryption_keys`) from the environment or config file.
    Configured { previous: bool },
    /// The key file (created at first start).
    File(PathBuf),
}

impl KeySource {
    pub fn of(settings: &Settings) -> Self {
        match settings.encryption_key {
            Some(_) => KeySource::Configured {
                previous: settings.previous_encryption_keys.is_some(),
            },
            None => KeySource::File(
                settings
                    .key_file
                    .clone()
                    .unwrap_or_else(|| default_key_path(&settings.database_url)),
            ),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            KeySource::Configured { previous: true } => {
                "the configured SONAR_SLACK_ENCRYPTION_KEY and SONAR_SLACK_PREVIOUS_ENCRYPTION_KEYS"
                    .into()
            }
            KeySource::Configured { previous: false } => {
                "the configured SONAR_SLACK_ENCRYPTION_KEY".into()
            }
            KeySource::File(path) => {
                let shown = path.canonicalize().unwrap_or_else(|_| path.clone());
                format!("the key file {}", shown.display())
            }
        }
    }
}

/// The configured keys, when `encryption_key` is set.
pub fn configured_sealer(settings: &Settings) -> anyhow::Result<Option<Sealer>> {
    use secrecy::ExposeSecret;
    let Some(key) = &settings.encryption_key else {
        return Ok(None);
    };
    let older: Vec<SecretString> = settings
        .previous_encryption_keys
        .as_ref()
        .map(|list| {
            list.expose_secret()
                .split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(|k| SecretString::from(k.to_owned()))
                .collect()
        })
        .unwrap_or_default();
    Sealer::from_keys(key, &older).map(Some).map_err(|e| {
        anyhow::anyhow!(
            "SONAR_SLACK_ENCRYPTION_KEY or SONAR_SLACK_PREVIOUS_ENCRYPTION_KEYS is unusable: {e}"
        )
    })
}

/// The sealer for a key file that must already exist (read-only commands, rotation).
pub fn file_sealer(path: &std::path::Path) -> anyhow::Result<Option<Sealer>> {
    match read_keys(path)? {
        Some(keys) => Ok(Some(Sealer::from_keys(&keys[0], &keys[1..])?)),
        None => Ok(None),
    }
}

/// Opens every stored secret with `sealer`. Fails, naming each secret that does not open and the
/// key id it needs, without changing anything.
pub async fn check_all(
    db: &impl ConnectionTrait,
    sealer: &Sealer,
    source: &KeySource,
) -> anyhow::Result<usize> {
    let stored = sealed::all(db).await?;
    let broken: Vec<(&Sealed, CryptoError)> = stored
        .iter()
        .filter_map(|s| {
            sealer
                .open(&s.value, &s.place.context())
                .err()
                .map(|e| (s, e))
        })
        .collect();
    if broken.is_empty() {
        return Ok(stored.len());
    }
    let mut needed: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (s, _) in &broken {
        let key = key_id_of(&s.value).map_or_else(|| "unknown".into(), |id| id.to_string());
        needed.entry(key).or_default().push(s.place.describe());
    }
    let detail: Vec<String> = needed
        .iter()
        .map(|(id, places)| {
            let shown: Vec<&str> = places.iter().take(3).map(String::as_str).collect();
            let more = places.len().saturating_sub(3);
            let more = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            format!("key id {id}: {}{more}", shown.join(", "))
        })
        .collect();
    anyhow::bail!(
        "{} of the {} secrets sealed in this database cannot be opened with {} (key ids {}); they need {}. Nothing was changed: start with the key that sealed them (a key file keeps older keys on its later lines; SONAR_SLACK_PREVIOUS_ENCRYPTION_KEYS takes them when the key is configured)",
        broken.len(),
        stored.len(),
        source.describe(),
        sealer.keyring().describe(),
        detail.join("; ")
    )
}

/// How many stored secrets each key seals (`None`: sealed before key ids).
pub async fn census(db: &impl ConnectionTrait) -> anyhow::Result<BTreeMap<Option<KeyId>, usize>> {
    let mut counts = BTreeMap::new();
    for s in sealed::all(db).await? {
        *counts.entry(key_id_of(&s.value)).or_default() += 1;
    }
    Ok(counts)
}
