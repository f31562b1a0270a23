//! Secrets at rest: AES-256-GCM sealing under a keyring with key ids, the key file, and one-time secrets.
//!
//! A sealed value is `v2:<key id>:` + base64(nonce ‖ ciphertext ‖ tag); values from before key ids
//! (`v1:` + base64) still open. Each value is bound to where it is stored (associated data such as
//! `workspace:T123:bot_token`), so a sealed value copied into another row does not open.

mod key_file;
mod keyring;
mod sealer;

pub use key_file::{KeyFileError, read_keys, write_keys};
pub use keyring::{Key, KeyId, Keyring};
pub use sealer::{Sealer, key_id_of};

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error(
        "the encryption key must be 32 bytes, base64-encoded (generate one with `openssl rand -base64 32`)"
    )]
    BadKey,
    #[error(transparent)]
    KeyFile(#[from] KeyFileError),
    #[error(
        "a sealed {what} cannot be opened: it was sealed with another encryption key, or the database was edited"
    )]
    Open { what: String },
    #[error(
        "a sealed {what} was sealed with key id {key_id}, which is not among the keys configured ({known}): restore that key (a key file keeps older keys on the lines after the first)"
    )]
    UnknownKey {
        what: String,
        key_id: KeyId,
        known: String,
    },
}

/// A fresh random secret for one-time use (install states, linking links, CSRF cookies):
/// 32 bytes from rand's thread generator (a CSPRNG seeded by the OS), URL-safe base64 without padding.
pub fn random_token() -> String {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Lowercase hex SHA-256: how one-time secrets are stored, so the database never holds them.
pub fn digest(value: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(value.as_bytes()))
}

/// Where the key file lives by default: beside a SQLite database file, else in the working directory.
pub fn default_key_path(database_url: &str) -> PathBuf {
    let sqlite_file = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))
        .map(|rest| rest.split('?').next().unwrap_or(rest))
        .filter(|p| !p.is_empty() && *p != ":memory:");
    match sqlite_file {
        Some(db) => Path::new(db).with_extension("key"),
        None => PathBuf::from("sonar-slack.key"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_path_sits_beside_the_sqlite_file() {
        assert_eq!(
            default_key_path("sqlite://sonar-slack.db?mode=rwc"),
            PathBuf::from("sonar-slack.key")
        );
        assert_eq!(
            default_key_path("sqlite:///var/lib/ss/db.sqlite"),
            PathBuf::from("/var/lib/ss/db.key")
        );
        assert_eq!(
            default_key_path("postgres://u@h/db"),
            PathBuf::from("sonar-slack.key")
        );
    }
}
