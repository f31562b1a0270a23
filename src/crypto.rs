//! Secrets at rest: AES-256-GCM sealing of tokens and webhook secrets, and the key's loading or creation.
//!
//! A sealed value is `v1:` + base64(nonce ‖ ciphertext ‖ tag). Each value is bound to where it is stored
//! (associated data such as `workspace:T123:bot_token`), so a sealed value copied into another row
//! does not open.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, Generate, Key, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use secrecy::{ExposeSecret, SecretString};

const PREFIX: &str = "v1:";
const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error(
        "the encryption key must be 32 bytes, base64-encoded (generate one with `openssl rand -base64 32`)"
    )]
    BadKey,
    #[error(
        "the key file {path} does not hold a base64 32-byte key; restore the file that sealed this database's secrets"
    )]
    BadKeyFile { path: PathBuf },
    #[error("cannot read or create the key file {path}: {source}")]
    KeyFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "a sealed {what} cannot be opened: it was sealed with another encryption key, or the database was edited"
    )]
    Open { what: String },
}

/// Seals and opens secrets with one AES-256-GCM key. Debug output never shows the key.
#[derive(Clone)]
pub struct Sealer {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(<key redacted>)")
    }
}

impl Sealer {
    pub fn from_base64(key: &SecretString) -> Result<Self, CryptoError> {
        let bytes = B64
            .decode(key.expose_secret().trim())
            .map_err(|_| CryptoError::BadKey)?;
        let cipher = Aes256Gcm::new_from_slice(&bytes).map_err(|_| CryptoError::BadKey)?;
        Ok(Self { cipher })
    }

    /// Loads the key file, or creates it (mode 0600) with a fresh random key.
    /// Returns whether the file was created.
    pub fn load_or_create(path: &Path) -> Result<(Self, bool), CryptoError> {
        let io = |source| CryptoError::KeyFile {
            path: path.to_owned(),
            source,
        };
        match fs::read_to_string(path) {
            Ok(text) => {
                let sealer = Self::from_base64(&SecretString::from(text)).map_err(|_| {
                    CryptoError::BadKeyFile {
                        path: path.to_owned(),
                    }
                })?;
                Ok((sealer, false))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Key::<Aes256Gcm>::generate();
                let encoded = B64.encode(key.as_slice());
                let mut options = fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::OpenOptionsExt;
                    options.mode(0o600);
                }
                let mut file = options.open(path).map_err(io)?;
                file.write_all(encoded.as_bytes()).map_err(io)?;
                file.sync_all().map_err(io)?;
                Ok((Self::from_base64(&SecretString::from(encoded))?, true))
            }
            Err(e) => Err(io(e)),
        }
    }

    /// Seals `plaintext`, bound to `context`.
    pub fn seal(&self, plaintext: &str, context: &str) -> String {
        let nonce = Nonce::generate();
        let payload = Payload {
            msg: plaintext.as_bytes(),
            aad: context.as_bytes(),
        };
        // Encryption with a valid key and an in-memory buffer fails only if the message exceeds
        // GCM's 64 GiB limit, which no token or secret approaches.
        let sealed = self
            .cipher
            .encrypt(&nonce, payload)
            .unwrap_or_else(|_| unreachable!("AES-GCM encryption of a short secret"));
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(nonce.as_slice());
        out.extend_from_slice(&sealed);
        format!("{PREFIX}{}", B64.encode(out))
    }

    /// [`Sealer::seal`] as URL-safe base64 without prefix or padding, for a query parameter.
    pub fn seal_for_url(&self, plaintext: &str, context: &str) -> String {
        let sealed = self.seal(plaintext, context);
        let raw = sealed.strip_prefix(PREFIX).unwrap_or(&sealed);
        raw.replace('+', "-")
            .replace('/', "_")
            .trim_end_matches('=')
            .to_owned()
    }

    /// Opens what [`Sealer::seal_for_url`] made.
    pub fn open_from_url(&self, sealed: &str, context: &str) -> Result<SecretString, CryptoError> {
        let mut b64 = sealed.replace('-', "+").replace('_', "/");
        while !b64.len().is_multiple_of(4) {
            b64.push('=');
        }
        self.open(&format!("{PREFIX}{b64}"), context)
    }

    /// Opens a value sealed with [`Sealer::seal`] under the same `context`.
    pub fn open(&self, sealed: &str, context: &str) -> Result<SecretString, CryptoError> {
        let fail = || CryptoError::Open {
            what: context.to_owned(),
        };
        let raw = sealed
            .strip_prefix(PREFIX)
            .and_then(|b| B64.decode(b).ok())
            .filter(|r| r.len() > NONCE_LEN)
            .ok_or_else(fail)?;
        let (nonce, body) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_from(nonce).map_err(|_| fail())?;
        let plain = self
            .cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: body,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| fail())?;
        String::from_utf8(plain)
            .map(SecretString::from)
            .map_err(|_| fail())
    }
}

/// A fresh random secret for one-time use (install states, linking links, CSRF cookies):
/// 32 bytes from rand's thread generator (a CSPRNG seeded by the OS), URL-safe base64 without padding.
pub fn random_token() -> String {
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

    fn sealer() -> Sealer {
        Sealer::from_base64(&SecretString::from(B64.encode([7u8; 32]))).unwrap()
    }

    #[test]
    fn url_sealed_values_are_url_safe_and_open_only_in_their_context() {
        let s = sealer();
        for text in ["", "x", "a state with ünïcode", &"long".repeat(100)] {
            let sealed = s.seal_for_url(text, "ctx");
            assert!(
                sealed
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
                "{sealed}"
            );
            assert_eq!(
                s.open_from_url(&sealed, "ctx").unwrap().expose_secret(),
                text
            );
            assert!(s.open_from_url(&sealed, "other").is_err());
        }
        assert!(s.open_from_url("garbage!", "ctx").is_err());
    }

    #[test]
    fn seal_open_round_trip_and_context_binding() {
        let s = sealer();
        let sealed = s.seal("xoxb-secret", "workspace:T1:bot_token");
        assert!(sealed.starts_with("v1:"));
        assert!(!sealed.contains("xoxb"));
        assert_ne!(
            sealed,
            s.seal("xoxb-secret", "workspace:T1:bot_token"),
            "fresh nonce each time"
        );
        let opened = s.open(&sealed, "workspace:T1:bot_token").unwrap();
        assert_eq!(opened.expose_secret(), "xoxb-secret");
        assert!(s.open(&sealed, "workspace:T2:bot_token").is_err());
        let other = Sealer::from_base64(&SecretString::from(B64.encode([8u8; 32]))).unwrap();
        let err = other.open(&sealed, "workspace:T1:bot_token").unwrap_err();
        assert!(!err.to_string().contains("xoxb"));
        assert!(s.open("garbage", "x").is_err());
    }

    #[test]
    fn bad_keys_are_refused() {
        assert!(Sealer::from_base64(&SecretString::from("not base64!")).is_err());
        assert!(Sealer::from_base64(&SecretString::from(B64.encode([1u8; 16]))).is_err());
    }

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.key");
        let (a, created) = Sealer::load_or_create(&path).unwrap();
        assert!(created);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let (b, created) = Sealer::load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(b.open(&a.seal("x", "c"), "c").unwrap().expose_secret(), "x");
    }

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
