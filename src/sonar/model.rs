//! What SonarQube's answers mean: the public result types and the pure reading of
//! (status, body) pairs into them.

use serde::Deserialize;

use super::error::SonarError;
use crate::domain::decision::Gate;
use crate::domain::types::ProjectKey;

/// Who a token belongs to, from `api/users/current`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SonarUser {
    pub login: String,
    pub name: Option<String>,
}

/// Whether a token's user may Browse a project (`api/components/show`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// HTTP 200, with the project's display name when SonarQube gave one.
    Browse { name: Option<String> },
    /// HTTP 403: the user lacks Browse.
    Denied,
    /// HTTP 404: the key is unknown (or, on some servers, private and not visible to the user).
    NotFound,
}

/// A main-branch quality gate status as `api/qualitygates/project_status` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteGate {
    Ok,
    Warn,
    Error,
    /// No gate computed yet (e.g. no analysis, or no new-code period): neither passed nor failed.
    None,
}

impl RemoteGate {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_uppercase().as_str() {
            "OK" => Some(Self::Ok),
            "WARN" => Some(Self::Warn),
            "ERROR" => Some(Self::Error),
            "NONE" => Some(Self::None),
            _ => None,
        }
    }

    /// The engine's view: `OK`/`WARN` passed, `ERROR` failed, `NONE` unknown (never a failure).
    pub fn gate(self) -> Option<Gate> {
        match self {
            Self::Ok | Self::Warn => Some(Gate::Passed),
            Self::Error => Some(Gate::Failed),
            Self::None => None,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CurrentUserJson {
    is_logged_in: bool,
    login: Option<String>,
    name: Option<String>,
}

#[derive(Deserialize)]
struct ShowJson {
    component: ComponentJson,
}

#[derive(Deserialize)]
struct ComponentJson {
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProjectStatusJson {
    project_status: StatusJson,
}

#[derive(Deserialize)]
struct StatusJson {
    status: String,
}

#[derive(Deserialize)]
struct ErrorsJson {
    errors: Vec<MsgJson>,
}

#[derive(Deserialize)]
struct MsgJson {
    msg: String,
}

/// Longest part of an unexpected body quoted in an error.
const QUOTE_CHARS: usize = 200;

/// One HTTP answer from SonarQube, about to be interpreted.
pub(super) struct Reply<'a> {
    pub server: &'a str,
    pub endpoint: &'static str,
    pub status: u16,
    pub body: &'a str,
}

impl Reply<'_> {
    /// The answers every endpoint treats the same way: 401 and 5xx.
    fn check_common(&self) -> Result<(), SonarError> {
        let server = self.server.to_owned();
        match self.status {
            401 => Err(SonarError::TokenRejected {
                server,
                anonymous: false,
            }),
            500..=599 => Err(SonarError::Unreachable {
                server,
                what: format!(
                    "{} got HTTP {} ({}), so it may be starting, in maintenance or overloaded",
                    self.endpoint,
                    self.status,
                    self.summary()
                ),
            }),
            _ => Ok(()),
        }
    }

    fn unexpected(&self, why: &str) -> SonarError {
        SonarError::Unexpected {
            server: self.server.to_owned(),
            status: self.status,
            detail: format!("{} {why}: {}", self.endpoint, self.summary()),
        }
    }

    /// SonarQube's `errors[].msg`, or the start of the body.
    fn summary(&self) -> String {
        if let Ok(errors) = serde_json::from_str::<ErrorsJson>(self.body)
            && !errors.errors.is_empty()
        {
            let msgs: Vec<&str> = errors.errors.iter().map(|e| e.msg.as_str()).collect();
            return msgs.join("; ");
        }
        let text = if self.body.trim_start().starts_with('<') {
            strip_tags(self.body)
        } else {
            self.body.to_owned()
        };
        let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if flat.is_empty() {
            return "empty body".to_owned();
        }
        let mut quoted: String = flat.chars().take(QUOTE_CHARS).collect();
        if quoted.len() < flat.len() {
            quoted.push('…');
        }
        format!("{quoted:?}")
    }

    fn json<'de, T: Deserialize<'de>>(&'de self) -> Result<T, SonarError> {
        serde_json::from_str(self.body)
            .map_err(|_| self.unexpected("answered something other than SonarQube's JSON"))
    }

    pub fn current_user(&self) -> Result<SonarUser, SonarError> {
        self.check_common()?;
        match self.status {
            200 => {}
            404 => {
                return Err(self.unexpected(
                    "is not there; check the server URL (including any context path such as /sonarqube)",
                ));
            }
            _ => return Err(self.unexpected("failed")),
        }
        let user: CurrentUserJson = self.json()?;
        if !user.is_logged_in {
            return Err(SonarError::TokenRejected {
                server: self.server.to_owned(),
                anonymous: true,
            });
        }
        match user.login.filter(|l| !l.trim().is_empty()) {
            Some(login) => Ok(SonarUser {
                login,
                name: user.name,
            }),
            None => Err(self.unexpected("said logged in but gave no login")),
        }
    }

    pub fn component(&self) -> Result<Access, SonarError> {
        self.check_common()?;
        match self.status {
            200 => {
                let show: ShowJson = self.json()?;
                Ok(Access::Browse {
                    name: show.component.name,
                })
            }
            403 => Ok(Access::Denied),
            404 => Ok(Access::NotFound),
            _ => Err(self.unexpected("failed")),
        }
    }

    pub fn gate(&self, key: &ProjectKey) -> Result<RemoteGate, SonarError> {
        self.check_common()?;
        match self.status {
            200 => {}
            403 => {
                return Err(self.unexpected(&format!(
                    "refused: the token's user needs Browse permission on project {key}"
                )));
            }
            404 => {
                return Err(self.unexpected(&format!(
                    "does not know project {key}; check the project key"
                )));
            }
            _ => return Err(self.unexpected("failed")),
        }
        let answer: ProjectStatusJson = self.json()?;
        let status = answer.project_status.status;
        RemoteGate::parse(&status)
            .ok_or_else(|| self.unexpected(&format!("gave an unknown gate status {status:?}")))
    }
}

/// The text of an HTML page (error pages of servers and proxies), tags dropped.
fn strip_tags(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                text.push(' ');
            }
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: &str) -> Reply<'_> {
        Reply {
            server: "http://sq",
            endpoint: "api/x",
            status,
            body,
        }
    }

    fn key() -> ProjectKey {
        ProjectKey::parse("org:svc").unwrap()
    }

    #[test]
    fn remote_gates_map_to_engine_gates() {
        let cases = [
            ("OK", RemoteGate::Ok, Some(Gate::Passed)),
            ("WARN", RemoteGate::Warn, Some(Gate::Passed)),
            ("ERROR", RemoteGate::Error, Some(Gate::Failed)),
            ("NONE", RemoteGate::None, None),
        ];
        for (raw, remote, gate) in cases {
            assert_eq!(RemoteGate::parse(raw), Some(remote));
            assert_eq!(remote.gate(), gate);
        }
        assert_eq!(RemoteGate::parse("BOGUS"), None);
    }

    #[test]
    fn current_user_needs_logged_in_with_a_login() {
        let body = r#"{"isLoggedIn":true,"login":"ada","name":"Ada L","groups":[]}"#;
        let user = reply(200, body).current_user().unwrap();
        assert_eq!(
            user,
            SonarUser {
                login: "ada".into(),
                name: Some("Ada L".into())
            }
        );
        let anonymous = reply(200, r#"{"isLoggedIn":false}"#).current_user();
        assert!(matches!(
            anonymous,
            Err(SonarError::TokenRejected {
                anonymous: true,
                ..
            })
        ));
        let no_login = reply(200, r#"{"isLoggedIn":true}"#).current_user();
        assert!(matches!(
            no_login,
            Err(SonarError::Unexpected { status: 200, .. })
        ));
        let html = reply(200, "<html>login</html>").current_user().unwrap_err();
        assert!(
            html.to_string().contains("other than SonarQube's JSON"),
            "{html}"
        );
        let missing = reply(404, "").current_user().unwrap_err();
        assert!(missing.to_string().contains("context path"), "{missing}");
    }

    #[test]
    fn common_statuses() {
        let rejected = reply(401, "").component();
        assert!(matches!(
            rejected,
            Err(SonarError::TokenRejected {
                anonymous: false,
                ..
            })
        ));
        let down = reply(503, "<html><h1>Maintenance</h1></html>")
            .gate(&key())
            .unwrap_err();
        let SonarError::Unreachable { what, .. } = &down else {
            panic!("{down:?}");
        };
        assert!(
            what.contains("HTTP 503") && what.contains("Maintenance"),
            "{what}"
        );
    }

    #[test]
    fn component_access() {
        let body = r#"{"component":{"key":"org:svc","name":"Service","qualifier":"TRK"}}"#;
        assert_eq!(
            reply(200, body).component().unwrap(),
            Access::Browse {
                name: Some("Service".into())
            }
        );
        let forbidden = r#"{"errors":[{"msg":"Insufficient privileges"}]}"#;
        assert_eq!(reply(403, forbidden).component().unwrap(), Access::Denied);
        assert_eq!(reply(404, "").component().unwrap(), Access::NotFound);
        let bad = reply(400, r#"{"errors":[{"msg":"a"},{"msg":"b"}]}"#)
            .component()
            .unwrap_err();
        assert_eq!(
            bad,
            SonarError::Unexpected {
                server: "http://sq".into(),
                status: 400,
                detail: "api/x failed: a; b".into()
            }
        );
    }

    #[test]
    fn gate_statuses_and_refusals() {
        let body =
            r#"{"projectStatus":{"status":"ERROR","conditions":[],"ignoredConditions":false}}"#;
        assert_eq!(reply(200, body).gate(&key()).unwrap(), RemoteGate::Error);
        let odd = r#"{"projectStatus":{"status":"MAYBE"}}"#;
        assert!(
            reply(200, odd)
                .gate(&key())
                .unwrap_err()
                .to_string()
                .contains("\"MAYBE\"")
        );
        let denied = reply(403, r#"{"errors":[{"msg":"Insufficient privileges"}]}"#).gate(&key());
        let text = denied.unwrap_err().to_string();
        assert!(
            text.contains("Browse permission on project org:svc") && text.contains("Insufficient"),
            "{text}"
        );
        assert!(
            reply(404, "")
                .gate(&key())
                .unwrap_err()
                .to_string()
                .contains("check the project key")
        );
    }

    #[test]
    fn long_bodies_are_cut() {
        let long = "x".repeat(1000);
        let SonarError::Unexpected { detail, .. } = reply(418, &long).unexpected("failed") else {
            panic!();
        };
        assert!(detail.len() < 300 && detail.ends_with("…\""), "{detail}");
    }
}
