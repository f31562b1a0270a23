//! The SonarQube connection a webhook names by `serverUrl`, with its secret already opened, kept
//! for a second so that a burst of webhooks costs no database read or decryption each. A miss is
//! never cached, and a signature that does not match a cached secret is checked again against the
//! database, so a new connection or a rotated secret is seen at once; a removed connection or a
//! newly added secret is seen within [`FRESH_FOR`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sea_orm::{DatabaseConnection, DbErr};
use secrecy::SecretString;

use crate::crypto::{CryptoError, Sealer};
use crate::domain::types::ServerUrl;
use crate::store::catalog;

/// How long a looked-up connection is trusted without reading it again.
pub const FRESH_FOR: Duration = Duration::from_secs(1);

/// A known connection, as a webhook needs it.
#[derive(Debug)]
pub struct Source {
    pub id: i64,
    pub server_url: String,
    /// `None`: unsigned webhooks are accepted.
    pub secret: Option<SecretString>,
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("the database does not answer ({0})")]
    Database(#[from] DbErr),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

#[derive(Debug, Default)]
pub struct Sources {
    known: Mutex<HashMap<String, (Instant, Arc<Source>)>>,
}

impl Sources {
    /// The connection for `url`, from the last second's lookups unless `fresh`.
    pub async fn get(
        &self,
        db: &DatabaseConnection,
        sealer: &Sealer,
        url: &ServerUrl,
        fresh: bool,
    ) -> Result<Option<Arc<Source>>, SourceError> {
        if !fresh
            && let Some((at, source)) = self.lock().get(url.as_str())
            && at.elapsed() < FRESH_FOR
        {
            return Ok(Some(source.clone()));
        }
        let Some(row) = catalog::connection_by_url(db, url).await? else {
            self.lock().remove(url.as_str());
            return Ok(None);
        };
        let secret = match &row.secret_sealed {
            Some(sealed) => {
                Some(sealer.open(sealed, &catalog::webhook_secret_context(&row.server_url))?)
            }
            None => None,
        };
        let source = Arc::new(Source {
            id: row.id,
            server_url: row.server_url,
            secret,
        });
        let mut known = self.lock();
        known.retain(|_, (at, _)| at.elapsed() < FRESH_FOR);
        known.insert(url.as_str().to_owned(), (Instant::now(), source.clone()));
        Ok(Some(source))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, Arc<Source>)>> {
        self.known.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
