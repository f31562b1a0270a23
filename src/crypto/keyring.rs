//! Encryption keys and their ids: the keyring whose first key seals and whose every key opens.

use std::fmt;

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Generate, Key as AeadKey, KeyInit};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use secrecy::{ExposeSecret, SecretString};
use sha2::Digest;

use super::CryptoError;

/// A key's public name: 16 hex digits of a SHA-256 over the key. It says which key sealed a value
/// without saying anything usable about the key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId([u8; 8]);

impl KeyId {
    fn of(key: &[u8]) -> Self {
        let hash = sha2::Sha256::new()
            .chain_update(b"sonar-slack key id\0")
            .chain_update(key)
            .finalize();
        let mut id = [0u8; 8];
        id.copy_from_slice(&hash[..8]);
        Self(id)
    }

    /// Reads the 16 hex digits written by `Display`.
    pub fn parse(text: &str) -> Option<Self> {
        let bytes = hex::decode(text).ok()?;
        Some(Self(bytes.try_into().ok()?))
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// One AES-256-GCM key and its id. Debug output never shows the key.
#[derive(Clone)]
pub struct Key {
    pub(super) id: KeyId,
    pub(super) cipher: Aes256Gcm,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({}, <redacted>)", self.id)
    }
}

impl Key {
    /// A key given as base64 of 32 bytes (surrounding whitespace ignored).
    pub fn from_base64(encoded: &SecretString) -> Result<Self, CryptoError> {
        let bytes = B64
            .decode(encoded.expose_secret().trim())
            .map_err(|_| CryptoError::BadKey)?;
        let cipher = Aes256Gcm::new_from_slice(&bytes).map_err(|_| CryptoError::BadKey)?;
        Ok(Self {
            id: KeyId::of(&bytes),
            cipher,
        })
    }

    /// A fresh random key, with its base64 form for the key file.
    pub fn generate() -> (Self, SecretString) {
        let raw = AeadKey::<Aes256Gcm>::generate();
        let encoded = SecretString::from(B64.encode(raw.as_slice()));
        let key = Self {
            id: KeyId::of(raw.as_slice()),
            cipher: Aes256Gcm::new(&raw),
        };
        (key, encoded)
    }

    pub fn id(&self) -> KeyId {
        self.id
    }
}

/// The keys in use: the first seals new values, all of them open (older keys stay during a rotation).
#[derive(Clone, Debug)]
pub struct Keyring {
    keys: Vec<Key>,
}

impl Keyring {
    /// `primary` seals; `older` only open. A key listed twice is kept once.
    pub fn new(primary: Key, older: impl IntoIterator<Item = Key>) -> Self {
        let mut keys = vec![primary];
        for key in older {
            if !keys.iter().any(|k| k.id == key.id) {
                keys.push(key);
            }
        }
        Self { keys }
    }

    pub fn primary(&self) -> &Key {
        &self.keys[0]
    }

    pub fn find(&self, id: KeyId) -> Option<&Key> {
        self.keys.iter().find(|k| k.id == id)
    }

    /// Every key, the primary first.
    pub fn keys(&self) -> &[Key] {
        &self.keys
    }

    /// The ids, comma-separated, the primary first: for messages.
    pub fn describe(&self) -> String {
        let ids: Vec<String> = self.keys.iter().map(|k| k.id.to_string()).collect();
        ids.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> Key {
        Key::from_base64(&SecretString::from(B64.encode([byte; 32]))).unwrap()
    }

    #[test]
    fn ids_are_stable_distinct_and_round_trip() {
        assert_eq!(key(1).id(), key(1).id());
        assert_ne!(key(1).id(), key(2).id());
        let shown = key(1).id().to_string();
        assert_eq!(shown.len(), 16);
        assert_eq!(KeyId::parse(&shown), Some(key(1).id()));
        assert_eq!(KeyId::parse("xyz"), None);
        assert_eq!(KeyId::parse("00"), None);
        let (generated, encoded) = Key::generate();
        assert_eq!(Key::from_base64(&encoded).unwrap().id(), generated.id());
    }

    #[test]
    fn debug_output_hides_the_key() {
        let k = key(9);
        let shown = format!("{k:?}");
        assert!(shown.contains(&k.id().to_string()));
        assert!(!shown.contains(&B64.encode([9u8; 32])));
    }

    #[test]
    fn bad_keys_are_refused() {
        assert!(Key::from_base64(&SecretString::from("not base64!")).is_err());
        assert!(Key::from_base64(&SecretString::from(B64.encode([1u8; 16]))).is_err());
    }

    #[test]
    fn the_first_key_seals_and_duplicates_are_dropped() {
        let ring = Keyring::new(key(1), [key(2), key(1), key(2)]);
        assert_eq!(ring.primary().id(), key(1).id());
        assert_eq!(ring.keys().len(), 2);
        assert!(ring.find(key(2).id()).is_some());
        assert!(ring.find(key(3).id()).is_none());
    }
}
