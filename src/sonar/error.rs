//! [`SonarError`]: what went wrong talking to SonarQube, worded for the person who has to fix it,
//! and never carrying the token.

/// A failed SonarQube call. Texts name the server and say what to do; they never hold the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SonarError {
    /// HTTP 401, or `api/users/current` answered as for an anonymous caller.
    #[error("{}", token_rejected(server, *anonymous))]
    TokenRejected { server: String, anonymous: bool },
    /// No answer: the connection failed, timed out, or the server answered 5xx.
    #[error(
        "SonarQube at {server} is unavailable: {what}; check the server URL and that SonarQube is up, then try again"
    )]
    Unreachable { server: String, what: String },
    /// An answer this client cannot use (wrong status, not SonarQube's JSON, ...).
    #[error("SonarQube at {server} gave an unexpected answer (HTTP {status}): {detail}")]
    Unexpected {
        server: String,
        status: u16,
        detail: String,
    },
}

fn token_rejected(server: &str, anonymous: bool) -> String {
    let again = "create a new user token (My Account > Security) and run /sonarqube connect again";
    if anonymous {
        format!(
            "SonarQube at {server} treated the token as anonymous (api/users/current says not logged in): \
             the token was not accepted, or a proxy in front of SonarQube drops the Authorization header; \
             {again}"
        )
    } else {
        format!(
            "SonarQube at {server} rejected the token (HTTP 401): it is wrong, revoked or expired; {again}"
        )
    }
}

impl SonarError {
    /// Replaces any occurrence of `secret` in the texts (defence in depth: a server or proxy could
    /// echo it back in an error page).
    pub(crate) fn redacted(self, secret: &str) -> Self {
        if secret.is_empty() {
            return self;
        }
        let clean = |s: String| s.replace(secret, "[redacted]");
        match self {
            Self::TokenRejected { server, anonymous } => Self::TokenRejected {
                server: clean(server),
                anonymous,
            },
            Self::Unreachable { server, what } => Self::Unreachable {
                server: clean(server),
                what: clean(what),
            },
            Self::Unexpected {
                server,
                status,
                detail,
            } => Self::Unexpected {
                server: clean(server),
                status,
                detail: clean(detail),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_say_what_happened_and_what_to_do() {
        let server = "https://sq.example.com".to_owned();
        let rejected = SonarError::TokenRejected {
            server: server.clone(),
            anonymous: false,
        };
        assert_eq!(
            rejected.to_string(),
            "SonarQube at https://sq.example.com rejected the token (HTTP 401): it is wrong, revoked \
             or expired; create a new user token (My Account > Security) and run /sonarqube connect again"
        );
        let anonymous = SonarError::TokenRejected {
            server: server.clone(),
            anonymous: true,
        };
        assert!(anonymous.to_string().contains("anonymous"));
        assert!(anonymous.to_string().contains("/sonarqube connect"));
        let down = SonarError::Unreachable {
            server,
            what: "connection refused".into(),
        };
        assert!(down.to_string().starts_with(
            "SonarQube at https://sq.example.com is unavailable: connection refused;"
        ));
    }

    #[test]
    fn redaction_removes_the_secret_everywhere() {
        let error = SonarError::Unexpected {
            server: "http://sq".into(),
            status: 400,
            detail: "bad token squ_secret123 here".into(),
        };
        let text = error.redacted("squ_secret123").to_string();
        assert!(
            !text.contains("squ_secret123") && text.contains("[redacted]"),
            "{text}"
        );
        let same = SonarError::Unreachable {
            server: "http://sq".into(),
            what: "x".into(),
        };
        assert_eq!(same.clone().redacted(""), same);
    }
}
