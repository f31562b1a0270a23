//! The OAuth install `state`'s contents and rules: a random nonce, an expiry and the digest of the
//! browser cookie it belongs to. The adapter seals it (so it cannot be forged or read) and records
//! each nonce once used, so nothing is stored for installs that never come back.

use serde::{Deserialize, Serialize};

/// How long an install may take, in seconds (Slack's codes also expire after 10 minutes).
pub const STATE_TTL_SECS: i64 = 600;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallState {
    /// Random; recorded when used, so a state works once.
    pub nonce: String,
    /// Unix seconds after which the state is refused.
    pub expires: i64,
    /// Digest of the browser cookie set with it.
    pub browser: String,
}

/// Why a state was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateProblem {
    /// Not issued by this service (or by another key), or damaged.
    Unknown,
    Expired,
    /// Issued to another browser (or the cookie is gone).
    OtherBrowser,
    /// Already used once.
    Used,
}

impl StateProblem {
    /// What the installer is told.
    pub fn explain(self) -> &'static str {
        match self {
            Self::Unknown => "This approval link was not issued by this service, or was damaged.",
            Self::Expired => "The install took longer than 10 minutes and expired.",
            Self::OtherBrowser => {
                "The install was started in another browser (or its cookie was blocked). Finish it in the browser that started it."
            }
            Self::Used => "This approval link was already used.",
        }
    }
}

impl InstallState {
    pub fn new(nonce: String, browser_digest: String, now: i64) -> Self {
        Self {
            nonce,
            expires: now + STATE_TTL_SECS,
            browser: browser_digest,
        }
    }

    /// Checks expiry and browser; the nonce's single use is the adapter's to record.
    pub fn check(&self, browser_digest: Option<&str>, now: i64) -> Result<(), StateProblem> {
        if now > self.expires {
            return Err(StateProblem::Expired);
        }
        match browser_digest {
            Some(b) if b == self.browser => Ok(()),
            _ => Err(StateProblem::OtherBrowser),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_is_good_for_ten_minutes_in_its_own_browser() {
        let s = InstallState::new("n".into(), "b".into(), 1_000);
        assert_eq!(s.check(Some("b"), 1_000), Ok(()));
        assert_eq!(s.check(Some("b"), 1_600), Ok(()));
        assert_eq!(s.check(Some("b"), 1_601), Err(StateProblem::Expired));
        assert_eq!(s.check(Some("x"), 1_000), Err(StateProblem::OtherBrowser));
        assert_eq!(s.check(None, 1_000), Err(StateProblem::OtherBrowser));
    }
}
