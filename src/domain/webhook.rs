//! The SonarQube webhook payload: a lenient wire model and its conversion into an [`AnalysisEvent`].
//!
//! SonarQube's payload varies by version (see `reference/sonarqube.md` §3): `branch`, `taskId`,
//! `qualityGate`, condition `value` and `changedAt` may all be missing, and dates carry an offset
//! without a colon. Everything except `project.key` is therefore optional here; what a missing field
//! *means* is decided in [`crate::domain::decision`], not by failing to parse.

use chrono::{DateTime, FixedOffset, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::types::{ProjectKey, ServerUrl};

/// The raw payload as SonarQube sends it. Unknown fields are ignored.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookPayload {
    pub server_url: Option<String>,
    pub task_id: Option<String>,
    /// Background-task status (`SUCCESS` / `FAILED`), not the gate status.
    pub status: Option<String>,
    pub analysed_at: Option<String>,
    pub changed_at: Option<String>,
    pub revision: Option<String>,
    pub project: Project,
    pub branch: Option<Branch>,
    pub quality_gate: Option<QualityGate>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Project {
    pub key: String,
    pub name: Option<String>,
    pub url: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Branch {
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub is_main: Option<bool>,
    pub url: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct QualityGate {
    pub name: Option<String>,
    pub status: Option<String>,
    #[serde(default)]
    pub conditions: Vec<Condition>,
}

/// One quality-gate condition. Values and thresholds are decimal strings on the wire.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    pub metric: String,
    pub operator: Option<String>,
    pub value: Option<String>,
    pub status: Option<String>,
    pub error_threshold: Option<String>,
}

/// Only `serverUrl`, read before the full payload so the connection (and its secret) can be found
/// and the signature checked before anything else is trusted.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    pub server_url: Option<String>,
}

/// What kind of branch an analysis ran on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BranchKind {
    /// `isMain: true`, or no `branch` object at all (servers without branch support).
    Main { name: Option<String> },
    /// `PULL_REQUEST` (or legacy `SHORT` without `isMain`); the name is the PR key, not a git branch.
    PullRequest { key: String },
    /// Any other branch (`BRANCH`, `LONG`, `SHORT` with `isMain: false`).
    Other { name: String },
}

/// A gate status as SonarQube reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum GateStatus {
    Ok,
    /// Servers before 7.6 only; counts as passed.
    Warn,
    Error,
}

impl GateStatus {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_uppercase().as_str() {
            "OK" => Some(Self::Ok),
            "WARN" => Some(Self::Warn),
            "ERROR" => Some(Self::Error),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::Warn => "WARN",
            Self::Error => "ERROR",
        }
    }
}

/// A webhook turned into the facts the engine decides on.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalysisEvent {
    pub server_url: ServerUrl,
    pub project_key: ProjectKey,
    pub project_name: String,
    pub branch: BranchKind,
    pub task_failed: bool,
    /// `None` when the payload has no gate, or a status we don't know (such as `NONE`).
    pub gate: Option<GateStatus>,
    pub gate_status_raw: Option<String>,
    pub gate_name: Option<String>,
    pub conditions: Vec<Condition>,
    pub revision: Option<String>,
    pub analysed_at: Option<DateTime<Utc>>,
    pub changed_at: Option<DateTime<Utc>>,
    /// Identifies one delivery of one analysis: the `taskId` with the analysis and change times and
    /// the gate status, or a hash of the whole body when there is no `taskId` (issue-edit events).
    /// SonarQube sends each analysis once per configured webhook, so the same URL configured at
    /// project and global level yields two identical deliveries: those share this key.
    pub dedupe_key: String,
}

/// Why a body could not be turned into an event. Rendered into 400 responses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("the body is not valid JSON: {0}")]
    Malformed(String),
    #[error("the payload does not match SonarQube's webhook format: {0}")]
    Shape(String),
    #[error("`{0}` is missing or empty")]
    MissingField(&'static str),
    #[error("`{field}` is not usable: {why}")]
    Invalid { field: &'static str, why: String },
    #[error(
        "`{field}` is not a date SonarQube sends (expected e.g. 2016-11-18T10:46:28+0100): {value:?}"
    )]
    BadDate { field: &'static str, value: String },
}

/// SonarQube always sends a JSON object; say so plainly rather than with serde's wording.
fn require_object(body: &[u8]) -> Result<(), PayloadError> {
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => Ok(()),
        _ if serde_json::from_slice::<serde::de::IgnoredAny>(body).is_err() => {
            serde_json::from_slice::<serde::de::IgnoredAny>(body)
                .map(|_| ())
                .map_err(json_error)
        }
        _ => Err(PayloadError::Shape(
            "the body must be a JSON object (SonarQube's webhook payload)".into(),
        )),
    }
}

/// Reads just the `serverUrl` of a body.
pub fn parse_envelope(body: &[u8]) -> Result<Envelope, PayloadError> {
    require_object(body)?;
    serde_json::from_slice(body).map_err(json_error)
}

/// Parses a full webhook body into an [`AnalysisEvent`].
pub fn parse_event(body: &[u8]) -> Result<AnalysisEvent, PayloadError> {
    require_object(body)?;
    let payload: WebhookPayload = serde_json::from_slice(body).map_err(json_error)?;
    AnalysisEvent::from_payload(payload, body)
}

fn json_error(err: serde_json::Error) -> PayloadError {
    match err.classify() {
        serde_json::error::Category::Data => PayloadError::Shape(err.to_string()),
        _ => PayloadError::Malformed(err.to_string()),
    }
}

impl AnalysisEvent {
    pub fn from_payload(p: WebhookPayload, raw_body: &[u8]) -> Result<Self, PayloadError> {
        let server_url = p
            .server_url
            .as_deref()
            .and_then(|s| ServerUrl::parse(s).ok())
            .ok_or(PayloadError::MissingField("serverUrl"))?;
        let project_key = ProjectKey::parse(&p.project.key).map_err(|e| match e.why {
            "it is empty" => PayloadError::MissingField("project.key"),
            why => PayloadError::Invalid {
                field: "project.key",
                why: why.to_owned(),
            },
        })?;
        let analysed_at = parse_optional_date("analysedAt", p.analysed_at.as_deref())?;
        let changed_at = parse_optional_date("changedAt", p.changed_at.as_deref())?;
        let (gate, gate_status_raw, gate_name, conditions) = match p.quality_gate {
            Some(g) => (
                g.status.as_deref().and_then(GateStatus::parse),
                g.status,
                g.name,
                g.conditions,
            ),
            None => (None, None, None, Vec::new()),
        };
        let dedupe_key = match p.task_id.as_deref().map(str::trim) {
            Some(task) if !task.is_empty() => format!(
                "task:{task}:{}:{}:{}",
                analysed_at
                    .map(|d| d.timestamp_millis())
                    .unwrap_or_default(),
                changed_at.map(|d| d.timestamp_millis()).unwrap_or_default(),
                gate_status_raw.as_deref().unwrap_or("-")
            ),
            _ => format!("body:{}", hex::encode(Sha256::digest(raw_body))),
        };
        Ok(Self {
            project_name: p
                .project
                .name
                .filter(|n| !n.trim().is_empty())
                .unwrap_or_else(|| project_key.as_str().to_owned()),
            server_url,
            project_key,
            branch: classify_branch(p.branch.as_ref()),
            task_failed: p
                .status
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case("FAILED")),
            gate,
            gate_status_raw,
            gate_name,
            conditions,
            revision: p.revision.filter(|r| !r.trim().is_empty()),
            analysed_at,
            changed_at,
            dedupe_key,
        })
    }
}

fn classify_branch(branch: Option<&Branch>) -> BranchKind {
    let Some(b) = branch else {
        return BranchKind::Main { name: None };
    };
    let name = b.name.clone().unwrap_or_default();
    let kind = b.kind.as_deref().unwrap_or("").to_ascii_uppercase();
    if b.is_main == Some(true) {
        return BranchKind::Main { name: Some(name) };
    }
    match kind.as_str() {
        "PULL_REQUEST" => BranchKind::PullRequest { key: name },
        // Before 7.x, short-lived branches stood in for pull requests; without `isMain`
        // a SHORT branch is never the main one.
        "SHORT" if b.is_main.is_none() => BranchKind::PullRequest { key: name },
        // No `isMain` at all but a branch object: only a LONG branch named like a main branch
        // could be main, and we cannot tell, so it is treated as another branch.
        _ => BranchKind::Other { name },
    }
}

fn parse_optional_date(
    field: &'static str,
    raw: Option<&str>,
) -> Result<Option<DateTime<Utc>>, PayloadError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => parse_sonar_date(s)
            .map(Some)
            .ok_or_else(|| PayloadError::BadDate {
                field,
                value: s.to_owned(),
            }),
    }
}

/// Parses SonarQube's `2016-11-18T10:46:28+0100` as well as RFC 3339 (`+01:00`, `Z`, fractions).
pub fn parse_sonar_date(s: &str) -> Option<DateTime<Utc>> {
    DateTime::<FixedOffset>::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%z")
        .or_else(|_| DateTime::<FixedOffset>::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .or_else(|_| DateTime::parse_from_rfc3339(s))
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn sonar_dates_without_colon_in_offset_parse() {
        let d = parse_sonar_date("2016-11-18T10:46:28+0100").unwrap();
        assert_eq!(d, Utc.with_ymd_and_hms(2016, 11, 18, 9, 46, 28).unwrap());
        assert_eq!(parse_sonar_date("2016-11-18T10:46:28+01:00"), Some(d));
        assert_eq!(
            parse_sonar_date("2016-11-18T09:46:28.000Z"),
            Some(d),
            "RFC 3339 with fraction"
        );
        assert_eq!(parse_sonar_date("18/11/2016"), None);
    }

    #[test]
    fn missing_project_key_is_reported_by_name() {
        let err = parse_event(br#"{"serverUrl":"http://x","project":{"name":"n"}}"#).unwrap_err();
        assert!(
            matches!(err, PayloadError::Shape(ref m) if m.contains("missing field `key`")),
            "{err}"
        );
        let err = parse_event(br#"{"serverUrl":"http://x","project":{"key":"  "}}"#).unwrap_err();
        assert_eq!(err, PayloadError::MissingField("project.key"));
        let err = parse_event(br#"{"serverUrl":"http://x","project":{"key":"a b"}}"#).unwrap_err();
        assert!(err.to_string().contains("spaces"), "{err}");
    }

    #[test]
    fn malformed_json_is_distinguished_from_wrong_shape() {
        assert!(matches!(
            parse_event(b"{not json"),
            Err(PayloadError::Malformed(_))
        ));
        let err = parse_event(b"[1,2]").unwrap_err();
        assert!(err.to_string().contains("must be a JSON object"), "{err}");
        assert!(matches!(
            parse_event(b"[1,"),
            Err(PayloadError::Malformed(_))
        ));
    }

    #[test]
    fn bad_date_names_the_field() {
        let err = parse_event(
            br#"{"serverUrl":"http://x","analysedAt":"yesterday","project":{"key":"k"}}"#,
        )
        .unwrap_err();
        assert!(matches!(
            err,
            PayloadError::BadDate {
                field: "analysedAt",
                ..
            }
        ));
    }

    #[test]
    fn dedupe_key_uses_task_and_times_or_body_hash() {
        let with_task = parse_event(
            br#"{"serverUrl":"http://x","taskId":"T1","analysedAt":"2021-03-08T18:25:04+0000","project":{"key":"k"}}"#,
        )
        .unwrap();
        assert_eq!(with_task.dedupe_key, "task:T1:1615227904000:0:-");
        let a = parse_event(br#"{"serverUrl":"http://x","project":{"key":"k"}}"#).unwrap();
        let b = parse_event(br#"{"serverUrl":"http://x","project":{"key":"k"} }"#).unwrap();
        assert!(a.dedupe_key.starts_with("body:"));
        assert_ne!(a.dedupe_key, b.dedupe_key, "different bytes, different key");
    }

    #[test]
    fn branch_shapes() {
        let b = |kind: &str, is_main: Option<bool>| Branch {
            name: Some("x".into()),
            kind: Some(kind.into()),
            is_main,
            url: None,
        };
        assert_eq!(classify_branch(None), BranchKind::Main { name: None });
        assert!(matches!(
            classify_branch(Some(&b("BRANCH", Some(true)))),
            BranchKind::Main { .. }
        ));
        assert!(matches!(
            classify_branch(Some(&b("LONG", Some(true)))),
            BranchKind::Main { .. }
        ));
        assert!(matches!(
            classify_branch(Some(&b("BRANCH", Some(false)))),
            BranchKind::Other { .. }
        ));
        assert!(matches!(
            classify_branch(Some(&b("LONG", None))),
            BranchKind::Other { .. }
        ));
        assert!(matches!(
            classify_branch(Some(&b("SHORT", None))),
            BranchKind::PullRequest { .. }
        ));
        assert!(matches!(
            classify_branch(Some(&b("SHORT", Some(false)))),
            BranchKind::Other { .. }
        ));
        assert!(matches!(
            classify_branch(Some(&b("PULL_REQUEST", Some(false)))),
            BranchKind::PullRequest { .. }
        ));
    }
}
