//! Sealing and opening secrets with the keyring; a key file's changes (a rotation) are picked up
//! while running.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use aes_gcm::Nonce;
use aes_gcm::aead::{Aead, Generate, Payload};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use secrecy::SecretString;

use super::key_file::{read_keys, write_keys};
use super::{CryptoError, Key, KeyFileError, KeyId, Keyring};

const V1: &str = "v1:";
const V2: &str = "v2:";
const NONCE_LEN: usize = 12;

/// Seals and opens secrets. Clones share the keyring. Debug output never shows a key.
#[derive(Clone)]
pub struct Sealer {
    ring: Arc<RwLock<Arc<Keyring>>>,
    file: Option<Arc<Watched>>,
}

/// The key file the keyring came from, and its size and time when last read.
struct Watched {
    path: PathBuf,
    stamp: Mutex<Option<(SystemTime, u64)>>,
}

impl Watched {
    fn stamp_now(&self) -> Option<(SystemTime, u64)> {
        let meta = std::fs::metadata(&self.path).ok()?;
        Some((meta.modified().ok()?, meta.len()))
    }
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealer(keys {}, <redacted>)", self.keyring().describe())
    }
}

/// The key id a sealed value names, if it names one (`v1:` values do not).
pub fn key_id_of(sealed: &str) -> Option<KeyId> {
    let rest = sealed.strip_prefix(V2)?;
    KeyId::parse(rest.split(':').next()?)
}

impl Sealer {
    pub fn new(ring: Keyring) -> Self {
        Self {
            ring: Arc::new(RwLock::new(Arc::new(ring))),
            file: None,
        }
    }

    /// One key, base64 of 32 bytes.
    pub fn from_base64(key: &SecretString) -> Result<Self, CryptoError> {
        Self::from_keys(key, &[])
    }

    /// `primary` seals; `older` keys only open.
    pub fn from_keys(primary: &SecretString, older: &[SecretString]) -> Result<Self, CryptoError> {
        let older = older
            .iter()
            .map(Key::from_base64)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::new(Keyring::new(Key::from_base64(primary)?, older)))
    }

    /// Loads the key file, or creates it (mode 0600) with a fresh random key. Returns whether it
    /// was created. The file is watched: a rotation that rewrites it is picked up.
    pub fn load_or_create(path: &Path) -> Result<(Self, bool), CryptoError> {
        let (keys, created) = match read_keys(path)? {
            Some(keys) => (keys, false),
            None => {
                let (_, encoded) = Key::generate();
                write_keys(path, std::slice::from_ref(&encoded), true)?;
                (vec![encoded], true)
            }
        };
        let mut sealer = Self::from_keys(&keys[0], &keys[1..])?;
        let watched = Watched {
            path: path.to_owned(),
            stamp: Mutex::new(None),
        };
        *watched.stamp.lock().unwrap_or_else(|e| e.into_inner()) = watched.stamp_now();
        sealer.file = Some(Arc::new(watched));
        Ok((sealer, created))
    }

    /// The key file this sealer watches, if any.
    pub fn key_file(&self) -> Option<&Path> {
        self.file.as_deref().map(|w| w.path.as_path())
    }

    /// The keys in use now (re-read from the key file if it changed).
    pub fn keyring(&self) -> Arc<Keyring> {
        self.reload(false);
        self.ring.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Re-reads the key file when it changed (or always, with `force`). A file that cannot be read
    /// keeps the keys in use, with a warning.
    fn reload(&self, force: bool) {
        let Some(watched) = &self.file else { return };
        let mut stamp = watched.stamp.lock().unwrap_or_else(|e| e.into_inner());
        let now = watched.stamp_now();
        if !force && now == *stamp {
            return;
        }
        let loaded = read_keys(&watched.path).and_then(|keys| {
            let keys = keys.ok_or_else(|| KeyFileError::Empty {
                path: watched.path.clone(),
            })?;
            Self::from_keys(&keys[0], &keys[1..]).map_err(|_| KeyFileError::Malformed {
                path: watched.path.clone(),
                line: 0,
            })
        });
        match loaded {
            Ok(fresh) => {
                let ring = fresh.ring.read().unwrap_or_else(|e| e.into_inner()).clone();
                *self.ring.write().unwrap_or_else(|e| e.into_inner()) = ring;
                *stamp = now;
            }
            Err(e) => {
                tracing::warn!(error = %e, "the key file changed but cannot be read; the keys loaded before stay in use")
            }
        }
    }

    /// Seals `plaintext` under the sealing key, bound to `context`.
    pub fn seal(&self, plaintext: &str, context: &str) -> String {
        let ring = self.keyring();
        let key = ring.primary();
        format!(
            "{V2}{}:{}",
            key.id(),
            B64.encode(encrypt(key, plaintext, context))
        )
    }

    /// [`Sealer::seal`] as URL-safe base64 without prefix or padding, for a query parameter. Such
    /// values are short-lived and carry no key id; every key is tried when opening them.
    pub fn seal_for_url(&self, plaintext: &str, context: &str) -> String {
        let raw = encrypt(self.keyring().primary(), plaintext, context);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    }

    /// Opens what [`Sealer::seal_for_url`] made.
    pub fn open_from_url(&self, sealed: &str, context: &str) -> Result<SecretString, CryptoError> {
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(sealed)
            .map_err(|_| open_error(context))?;
        self.keyring()
            .keys()
            .iter()
            .find_map(|k| decrypt(k, &raw, context))
            .ok_or_else(|| open_error(context))
    }

    /// Opens a value sealed with [`Sealer::seal`] under the same `context`.
    pub fn open(&self, sealed: &str, context: &str) -> Result<SecretString, CryptoError> {
        if let Some(rest) = sealed.strip_prefix(V2) {
            let (id, body) = rest.split_once(':').ok_or_else(|| open_error(context))?;
            let id = KeyId::parse(id).ok_or_else(|| open_error(context))?;
            let raw = B64.decode(body).map_err(|_| open_error(context))?;
            let mut ring = self.keyring();
            if ring.find(id).is_none() {
                // A rotation elsewhere may have added the key since the file was last read.
                self.reload(true);
                ring = self.keyring();
            }
            let key = ring.find(id).ok_or_else(|| CryptoError::UnknownKey {
                what: context.to_owned(),
                key_id: id,
                known: ring.describe(),
            })?;
            return decrypt(key, &raw, context).ok_or_else(|| open_error(context));
        }
        let raw = sealed
            .strip_prefix(V1)
            .and_then(|b| B64.decode(b).ok())
            .ok_or_else(|| open_error(context))?;
        self.keyring()
            .keys()
            .iter()
            .find_map(|k| decrypt(k, &raw, context))
            .ok_or_else(|| open_error(context))
    }
}

fn open_error(context: &str) -> CryptoError {
    CryptoError::Open {
        what: context.to_owned(),
    }
}

/// nonce ‖ ciphertext ‖ tag.
fn encrypt(key: &Key, plaintext: &str, context: &str) -> Vec<u8> {
    let nonce = Nonce::generate();
    let payload = Payload {
        msg: plaintext.as_bytes(),
        aad: context.as_bytes(),
    };
    // Encryption with a valid key and an in-memory buffer fails only if the message exceeds
    // GCM's 64 GiB limit, which no token or secret approaches.
    let sealed = key
        .cipher
        .encrypt(&nonce, payload)
        .unwrap_or_else(|_| unreachable!("AES-GCM encryption of a short secret"));
    let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
    out.extend_from_slice(nonce.as_slice());
    out.extend_from_slice(&sealed);
    out
}

fn decrypt(key: &Key, raw: &[u8], context: &str) -> Option<SecretString> {
    if raw.len() <= NONCE_LEN {
        return None;
    }
    let (nonce, body) = raw.split_at(NONCE_LEN);
    let nonce = Nonce::try_from(nonce).ok()?;
    let plain = key
        .cipher
        .decrypt(
            &nonce,
            Payload {
                msg: body,
                aad: context.as_bytes(),
            },
        )
        .ok()?;
    String::from_utf8(plain).ok().map(SecretString::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn encoded(byte: u8) -> SecretString {
        SecretString::from(B64.encode([byte; 32]))
    }

    fn sealer(byte: u8) -> Sealer {
        Sealer::from_base64(&encoded(byte)).unwrap()
    }

    #[test]
    fn url_sealed_values_are_url_safe_and_open_only_in_their_context() {
        let s = sealer(7);
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
    fn sealed_values_name_their_key_and_are_bound_to_their_context() {
        let s = sealer(7);
        let sealed = s.seal("xoxb-secret", "workspace:T1:bot_token");
        assert_eq!(key_id_of(&sealed), Some(s.keyring().primary().id()));
        assert!(!sealed.contains("xoxb"));
        assert_ne!(
            sealed,
            s.seal("xoxb-secret", "workspace:T1:bot_token"),
            "fresh nonce"
        );
        let opened = s.open(&sealed, "workspace:T1:bot_token").unwrap();
        assert_eq!(opened.expose_secret(), "xoxb-secret");
        assert!(s.open(&sealed, "workspace:T2:bot_token").is_err());
        assert!(s.open("garbage", "x").is_err());
        assert!(s.open("v2:zz:AAAA", "x").is_err());
    }

    #[test]
    fn another_key_names_the_missing_key_id_and_never_the_secret() {
        let sealed = sealer(7).seal("xoxb-secret", "c");
        let err = sealer(8).open(&sealed, "c").unwrap_err();
        let CryptoError::UnknownKey { key_id, .. } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(Some(*key_id), key_id_of(&sealed));
        let text = err.to_string();
        assert!(
            text.contains(&key_id.to_string()) && !text.contains("xoxb"),
            "{text}"
        );
    }

    #[test]
    fn older_keys_open_and_the_first_seals() {
        let old = sealer(1);
        let sealed_old = old.seal("t", "c");
        let ring = Sealer::from_keys(&encoded(2), &[encoded(1)]).unwrap();
        assert_eq!(ring.open(&sealed_old, "c").unwrap().expose_secret(), "t");
        let sealed_new = ring.seal("t", "c");
        assert_eq!(
            key_id_of(&sealed_new),
            Some(sealer(2).keyring().primary().id())
        );
        assert!(old.open(&sealed_new, "c").is_err());
    }

    #[test]
    fn values_sealed_before_key_ids_still_open() {
        // What the first format wrote: `v1:` + base64(nonce ‖ ciphertext ‖ tag).
        let s = Sealer::from_keys(&encoded(2), &[encoded(7)]).unwrap();
        let raw = encrypt(sealer(7).keyring().primary(), "legacy", "c");
        let v1 = format!("v1:{}", B64.encode(raw));
        assert_eq!(key_id_of(&v1), None);
        assert_eq!(s.open(&v1, "c").unwrap().expose_secret(), "legacy");
        assert!(sealer(3).open(&v1, "c").is_err());
    }

    #[test]
    fn a_rewritten_key_file_is_picked_up_by_a_running_sealer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.key");
        let (running, created) = Sealer::load_or_create(&path).unwrap();
        assert!(created);
        let before = running.seal("t", "c");
        let (_, newer) = Key::generate();
        let mut keys = vec![newer];
        keys.extend(read_keys(&path).unwrap().unwrap());
        write_keys(&path, &keys, false).unwrap();
        // Another process (the rotation) seals under the new key; the running sealer opens it.
        let rotated = Sealer::from_keys(&keys[0], &keys[1..])
            .unwrap()
            .seal("t", "c");
        assert_eq!(running.open(&rotated, "c").unwrap().expose_secret(), "t");
        assert_eq!(running.open(&before, "c").unwrap().expose_secret(), "t");
        // And seals under it from now on.
        assert_eq!(key_id_of(&running.seal("t", "c")), key_id_of(&rotated));
        let (again, created) = Sealer::load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(again.keyring().keys().len(), 2);
    }
}
