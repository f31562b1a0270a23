//! Bot tokens for posting: opened from the database, and with token rotation refreshed
//! single-flight shortly before they expire (refresh tokens are single-use, so two refreshes at
//! once would break the installation).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::Utc;
use entity::workspace;
use sea_orm::DatabaseConnection;
use secrecy::{ExposeSecret, SecretString};

use crate::crypto::Sealer;
use crate::slack::SlackOAuth;
use crate::slack::oauth::OAuthError;
use crate::store::{catalog, installs, status};

/// Refresh this long before the token expires.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// Why no token can be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenProblem {
    #[error("{0}")]
    /// No such workspace yet (`workspaces add` or the install will bring it).
    NotAdded(String),
    #[error("{0}")]
    /// The workspace is disabled, or its tokens cannot be renewed: deliveries cannot succeed.
    Disabled(String),
    #[error("{0}")]
    /// The database, the key or Slack could not be used just now: try again later.
    Transient(String),
}

/// Hands out bot tokens, refreshing rotating ones.
pub struct BotTokens {
    db: DatabaseConnection,
    sealer: Sealer,
    oauth: Option<SlackOAuth>,
    /// One refresh at a time per workspace in this process; the database guards across instances.
    refreshing: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl std::fmt::Debug for BotTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BotTokens").finish_non_exhaustive()
    }
}

impl BotTokens {
    pub fn new(db: DatabaseConnection, sealer: Sealer, oauth: Option<SlackOAuth>) -> Self {
        Self {
            db,
            sealer,
            oauth,
            refreshing: Mutex::new(HashMap::new()),
        }
    }

    /// A usable bot token for `team`, refreshed first if it expires within a few minutes.
    pub async fn get(&self, team: &str) -> Result<SecretString, TokenProblem> {
        let ws = self.workspace(team).await?;
        if !expires_soon(&ws) {
            return self.open_bot(&ws);
        }
        self.refresh(team, None).await
    }

    /// Slack said `token_expired` for `used`: refresh (unless another task already did).
    pub async fn after_expiry(
        &self,
        team: &str,
        used: &SecretString,
    ) -> Result<SecretString, TokenProblem> {
        self.refresh(team, Some(used)).await
    }

    async fn refresh(
        &self,
        team: &str,
        expired: Option<&SecretString>,
    ) -> Result<SecretString, TokenProblem> {
        let gate = {
            let mut map = self
                .refreshing
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            map.entry(team.to_owned()).or_default().clone()
        };
        let _one_at_a_time = gate.lock().await;
        // Whoever held the lock before us may have refreshed already.
        let ws = self.workspace(team).await?;
        let current = self.open_bot(&ws)?;
        let stale = match expired {
            Some(used) => used.expose_secret() == current.expose_secret(),
            None => expires_soon(&ws),
        };
        if !stale {
            return Ok(current);
        }
        let (Some(oauth), Some(refresh_sealed)) = (&self.oauth, &ws.refresh_token_sealed) else {
            return Err(self
                .broken(team, "the bot token expired and cannot be refreshed (no refresh token or no client secret configured): reinstall the app")
                .await);
        };
        let refresh_token = self
            .sealer
            .open(refresh_sealed, &catalog::refresh_token_context(team))
            .map_err(|e| TokenProblem::Transient(e.to_string()))?;
        let grant = match oauth.refresh(&refresh_token).await {
            Ok(g) => g,
            Err(OAuthError::Refused(code)) => {
                // Another instance may have used the refresh token a moment ago.
                let again = self.workspace(team).await?;
                let same = again
                    .refresh_token_sealed
                    .as_deref()
                    .is_some_and(|now| self.opens_to(team, now, &refresh_token));
                if !same {
                    return self.open_bot(&again);
                }
                let why =
                    format!("Slack refused to refresh the bot token ({code}): reinstall the app");
                return Err(self.broken(team, &why).await);
            }
            Err(e) => {
                return Err(TokenProblem::Transient(format!(
                    "token refresh failed: {e}"
                )));
            }
        };
        let Some(new_refresh) = grant.refresh_token.as_ref() else {
            return Err(TokenProblem::Transient(
                "Slack refreshed the token without a new refresh token".into(),
            ));
        };
        let bot_sealed = self.sealer.seal(
            grant.bot_token.expose_secret(),
            &catalog::bot_token_context(team),
        );
        let refresh_sealed_new = self.sealer.seal(
            new_refresh.expose_secret(),
            &catalog::refresh_token_context(team),
        );
        let expires_at = grant
            .expires_in
            .and_then(|d| chrono::Duration::from_std(d).ok())
            .map(|d| Utc::now() + d);
        // The stored refresh token may have been re-sealed (key rotation) since we read it: the
        // pair is stored as long as it still holds the token we used.
        let mut expected = refresh_sealed.clone();
        let mut stored = false;
        for _ in 0..3 {
            stored = installs::store_rotated(
                &self.db,
                team,
                &expected,
                &bot_sealed,
                &refresh_sealed_new,
                expires_at,
            )
            .await
            .map_err(|e| TokenProblem::Transient(e.to_string()))?;
            if stored {
                break;
            }
            let now = self.workspace(team).await?;
            match now.refresh_token_sealed {
                Some(now) if self.opens_to(team, &now, &refresh_token) => expected = now,
                _ => break,
            }
        }
        if stored {
            tracing::info!(team, "bot token refreshed");
            Ok(grant.bot_token)
        } else {
            // Another instance stored a newer pair in the meantime; use it.
            self.open_bot(&self.workspace(team).await?)
        }
    }

    async fn workspace(&self, team: &str) -> Result<workspace::Model, TokenProblem> {
        let ws = catalog::workspace(&self.db, team)
            .await
            .map_err(|e| TokenProblem::Transient(e.to_string()))?
            .ok_or_else(|| {
                TokenProblem::NotAdded(format!(
                    "workspace {team} is not installed yet; the message waits for the app's install (or `sonar-slack workspaces add --team-id {team}`)"
                ))
            })?;
        if ws.status != status::ACTIVE {
            return Err(TokenProblem::Disabled(format!(
                "workspace {team} is disabled: {}",
                ws.disabled_reason.unwrap_or_default()
            )));
        }
        Ok(ws)
    }

    /// Whether a sealed refresh token holds `token` (a re-sealed one differs only in its ciphertext).
    fn opens_to(&self, team: &str, sealed: &str, token: &SecretString) -> bool {
        self.sealer
            .open(sealed, &catalog::refresh_token_context(team))
            .is_ok_and(|t| t.expose_secret() == token.expose_secret())
    }

    fn open_bot(&self, ws: &workspace::Model) -> Result<SecretString, TokenProblem> {
        self.sealer
            .open(
                &ws.bot_token_sealed,
                &catalog::bot_token_context(&ws.team_id),
            )
            .map_err(|e| TokenProblem::Transient(e.to_string()))
    }

    async fn broken(&self, team: &str, why: &str) -> TokenProblem {
        if let Err(e) = crate::store::deliveries::disable_workspace(&self.db, team, why).await {
            tracing::error!(error = %e, "cannot mark the workspace disabled");
        }
        tracing::error!(team, reason = why, "workspace disabled");
        TokenProblem::Disabled(format!("workspace {team} is disabled: {why}"))
    }
}

fn expires_soon(ws: &workspace::Model) -> bool {
    let margin = chrono::Duration::from_std(REFRESH_MARGIN).unwrap_or_default();
    ws.token_expires_at
        .is_some_and(|at| at - margin <= Utc::now())
}
