//! The transition rule: given what we remember of a project's main branch and a new analysis event,
//! decide whether to notify, record silently, or ignore (and say why).

use chrono::{DateTime, Duration, Utc};

use super::webhook::{AnalysisEvent, BranchKind, GateStatus};

/// The two states a notification can be about. `OK` and `WARN` are passed; `ERROR` is failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Gate {
    Passed,
    Failed,
}

impl Gate {
    pub fn from_status(status: GateStatus) -> Self {
        match status {
            GateStatus::Ok | GateStatus::Warn => Self::Passed,
            GateStatus::Error => Self::Failed,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Passed => "passed",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "passed" => Some(Self::Passed),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// Orders events: by `analysedAt`, then `changedAt` (an issue edit re-evaluates the gate of the same
/// analysis later). `None` sorts before any date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct OrderKey {
    pub analysed_at: Option<DateTime<Utc>>,
    pub changed_at: Option<DateTime<Utc>>,
}

impl OrderKey {
    pub fn of(event: &AnalysisEvent) -> Self {
        Self {
            analysed_at: event.analysed_at,
            changed_at: event.changed_at,
        }
    }

    pub fn is_dated(&self) -> bool {
        self.analysed_at.is_some() || self.changed_at.is_some()
    }

    /// The latest moment the key names, if any.
    pub fn latest(&self) -> Option<DateTime<Utc>> {
        self.analysed_at.max(self.changed_at)
    }
}

/// What a ProjectActor remembers of the main branch between events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectMemory {
    pub gate: Gate,
    pub order: OrderKey,
    /// When the gate last went Passed → Failed; unknown if it was already failing when first seen.
    pub failing_since: Option<DateTime<Utc>>,
}

/// Why an event leads to no state change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IgnoreReason {
    PullRequest {
        key: String,
    },
    OtherBranch {
        name: String,
    },
    TaskFailed,
    NoQualityGate,
    UnknownGateStatus(String),
    Stale,
    Duplicate,
    /// Dated more than a day ahead: a wrong clock must not silence the project.
    FromTheFuture,
}

impl IgnoreReason {
    /// A short machine-readable code, stored and returned to callers.
    pub fn code(&self) -> &'static str {
        match self {
            Self::PullRequest { .. } => "pull_request",
            Self::OtherBranch { .. } => "not_main_branch",
            Self::TaskFailed => "task_failed",
            Self::NoQualityGate => "no_quality_gate",
            Self::UnknownGateStatus(_) => "unknown_gate_status",
            Self::Stale => "stale",
            Self::Duplicate => "duplicate",
            Self::FromTheFuture => "from_the_future",
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Self::PullRequest { key } => {
                format!("pull request {key} (only the main branch notifies)")
            }
            Self::OtherBranch { name } => format!("branch {name:?} is not the main branch"),
            Self::TaskFailed => "the analysis task FAILED, so no gate was computed".into(),
            Self::NoQualityGate => "the payload carries no quality gate".into(),
            Self::UnknownGateStatus(s) => format!("gate status {s:?} is neither passed nor failed"),
            Self::Stale => "older than the last event applied for this project".into(),
            Self::FromTheFuture => {
                "dated more than a day ahead; check the SonarQube server's clock".into()
            }
            Self::Duplicate => {
                "already received (same taskId, analysis time and gate, or same body)".into()
            }
        }
    }
}

/// A real Passed ↔ Failed change on the main branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub from: Gate,
    pub to: Gate,
    /// On recovery: how long the gate was failing, when known.
    pub failing_for: Option<Duration>,
}

/// The outcome of one event for one project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Ignore(IgnoreReason),
    /// The first status ever seen: remember it, tell no one.
    RecordFirst(Gate),
    /// A newer event with the same gate: move the ordering key on, tell no one.
    RecordUnchanged(Gate),
    Notify(Transition),
}

impl Decision {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Ignore(r) => r.code(),
            Self::RecordFirst(_) => "first_status",
            Self::RecordUnchanged(_) => "unchanged",
            Self::Notify(_) => "notified",
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Self::Ignore(r) => format!("ignored: {}", r.describe()),
            Self::RecordFirst(g) => {
                format!("recorded first status ({}), no notification", g.as_str())
            }
            Self::RecordUnchanged(g) => format!("gate still {}, no notification", g.as_str()),
            Self::Notify(t) => format!("gate {} → {}", t.from.as_str(), t.to.as_str()),
        }
    }
}

/// Decides what an event means for a project, given its memory. `now` stands in for the event time
/// when the payload has none.
pub fn decide(
    memory: Option<&ProjectMemory>,
    event: &AnalysisEvent,
    now: DateTime<Utc>,
) -> Decision {
    match &event.branch {
        BranchKind::PullRequest { key } => {
            return Decision::Ignore(IgnoreReason::PullRequest { key: key.clone() });
        }
        BranchKind::Other { name } => {
            return Decision::Ignore(IgnoreReason::OtherBranch { name: name.clone() });
        }
        BranchKind::Main { .. } => {}
    }
    if event.task_failed {
        return Decision::Ignore(IgnoreReason::TaskFailed);
    }
    let Some(status) = event.gate else {
        return Decision::Ignore(match &event.gate_status_raw {
            Some(raw) => IgnoreReason::UnknownGateStatus(raw.clone()),
            None => IgnoreReason::NoQualityGate,
        });
    };
    let gate = Gate::from_status(status);
    let order = OrderKey::of(event);
    if order
        .latest()
        .is_some_and(|at| at > now + Duration::days(1))
    {
        return Decision::Ignore(IgnoreReason::FromTheFuture);
    }
    let Some(memory) = memory else {
        return Decision::RecordFirst(gate);
    };
    if order.is_dated() && order < memory.order {
        return Decision::Ignore(IgnoreReason::Stale);
    }
    if gate == memory.gate {
        return Decision::RecordUnchanged(gate);
    }
    let at = order.latest().unwrap_or(now);
    Decision::Notify(Transition {
        from: memory.gate,
        to: gate,
        failing_for: match gate {
            Gate::Passed => memory
                .failing_since
                .map(|since| (at - since).max(Duration::zero())),
            Gate::Failed => None,
        },
    })
}

/// The memory after applying a decision; `None` when the decision changes nothing.
pub fn remember(
    memory: Option<&ProjectMemory>,
    event: &AnalysisEvent,
    decision: &Decision,
    now: DateTime<Utc>,
) -> Option<ProjectMemory> {
    let order = OrderKey::of(event);
    let at = order.latest().unwrap_or(now);
    let gate = match decision {
        Decision::Ignore(_) => return None,
        Decision::RecordFirst(g) | Decision::RecordUnchanged(g) => *g,
        Decision::Notify(t) => t.to,
    };
    let failing_since = match (decision, gate) {
        (Decision::Notify(_), Gate::Failed) => Some(at),
        (_, Gate::Failed) => memory.and_then(|m| m.failing_since),
        (_, Gate::Passed) => None,
    };
    Some(ProjectMemory {
        gate,
        order: if order.is_dated() {
            order
        } else {
            memory.map(|m| m.order).unwrap_or_default()
        },
        failing_since,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::webhook::parse_event;
    use chrono::TimeZone;

    fn t(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, 1, h, 0, 0).unwrap()
    }

    fn event(status: &str, analysed_h: u32, changed_h: u32) -> AnalysisEvent {
        let body = format!(
            r#"{{"serverUrl":"http://sq","taskId":"T{analysed_h}{changed_h}","status":"SUCCESS",
            "analysedAt":"2024-05-01T{analysed_h:02}:00:00+0000","changedAt":"2024-05-01T{changed_h:02}:00:00+0000",
            "project":{{"key":"p"}},"qualityGate":{{"name":"g","status":"{status}","conditions":[]}}}}"#
        );
        parse_event(body.as_bytes()).unwrap()
    }

    fn mem(gate: Gate, h: u32) -> ProjectMemory {
        ProjectMemory {
            gate,
            order: OrderKey {
                analysed_at: Some(t(h)),
                changed_at: Some(t(h)),
            },
            failing_since: (gate == Gate::Failed).then(|| t(h)),
        }
    }

    #[test]
    fn first_status_is_recorded_silently() {
        assert_eq!(
            decide(None, &event("ERROR", 1, 1), t(9)),
            Decision::RecordFirst(Gate::Failed)
        );
        assert_eq!(
            decide(None, &event("WARN", 1, 1), t(9)),
            Decision::RecordFirst(Gate::Passed)
        );
    }

    #[test]
    fn passed_to_failed_and_back_notify_with_duration() {
        let m = mem(Gate::Passed, 1);
        let d = decide(Some(&m), &event("ERROR", 2, 2), t(9));
        assert!(matches!(
            d,
            Decision::Notify(Transition {
                from: Gate::Passed,
                to: Gate::Failed,
                ..
            })
        ));
        let m2 = remember(Some(&m), &event("ERROR", 2, 2), &d, t(9)).unwrap();
        assert_eq!(m2.failing_since, Some(t(2)));
        let d = decide(Some(&m2), &event("OK", 5, 5), t(9));
        assert_eq!(
            d,
            Decision::Notify(Transition {
                from: Gate::Failed,
                to: Gate::Passed,
                failing_for: Some(Duration::hours(3)),
            })
        );
    }

    #[test]
    fn same_gate_again_is_unchanged_and_keeps_failing_since() {
        let m = mem(Gate::Failed, 1);
        let e = event("ERROR", 2, 2);
        let d = decide(Some(&m), &e, t(9));
        assert_eq!(d, Decision::RecordUnchanged(Gate::Failed));
        assert_eq!(
            remember(Some(&m), &e, &d, t(9)).unwrap().failing_since,
            Some(t(1))
        );
        assert_eq!(
            decide(Some(&mem(Gate::Passed, 1)), &event("WARN", 2, 2), t(9)),
            Decision::RecordUnchanged(Gate::Passed)
        );
    }

    #[test]
    fn older_events_are_stale_but_a_tie_is_applied() {
        let m = mem(Gate::Passed, 5);
        assert_eq!(
            decide(Some(&m), &event("ERROR", 4, 4), t(9)),
            Decision::Ignore(IgnoreReason::Stale)
        );
        assert_eq!(
            decide(Some(&m), &event("ERROR", 5, 4), t(9)),
            Decision::Ignore(IgnoreReason::Stale)
        );
        // Same times, other gate: a re-evaluation of the same analysis (exact repeats are caught
        // earlier, as duplicates, by the inbox).
        assert!(matches!(
            decide(Some(&m), &event("ERROR", 5, 5), t(9)),
            Decision::Notify(_)
        ));
    }

    #[test]
    fn issue_edit_with_later_changed_at_flips_the_gate() {
        let m = mem(Gate::Failed, 5);
        let d = decide(Some(&m), &event("OK", 5, 6), t(9));
        assert!(matches!(
            d,
            Decision::Notify(Transition {
                to: Gate::Passed,
                ..
            })
        ));
    }

    #[test]
    fn ignored_shapes_do_not_change_memory() {
        let mut e = event("ERROR", 2, 2);
        e.task_failed = true;
        let d = decide(Some(&mem(Gate::Passed, 1)), &e, t(9));
        assert_eq!(d, Decision::Ignore(IgnoreReason::TaskFailed));
        assert_eq!(remember(None, &e, &d, t(9)), None);
        let mut e = event("NONE", 2, 2);
        assert_eq!(
            decide(None, &e, t(9)),
            Decision::Ignore(IgnoreReason::UnknownGateStatus("NONE".into()))
        );
        e.gate_status_raw = None;
        assert_eq!(
            decide(None, &e, t(9)),
            Decision::Ignore(IgnoreReason::NoQualityGate)
        );
    }

    #[test]
    fn far_future_events_are_ignored_so_they_cannot_block_later_ones() {
        let m = mem(Gate::Passed, 1);
        let mut e = event("ERROR", 2, 2);
        e.analysed_at = Some(t(2) + Duration::days(400));
        assert_eq!(
            decide(Some(&m), &e, t(2)),
            Decision::Ignore(IgnoreReason::FromTheFuture)
        );
        e.analysed_at = Some(t(2) + Duration::hours(20));
        assert!(
            matches!(decide(Some(&m), &e, t(2)), Decision::Notify(_)),
            "a clock a few hours ahead is fine"
        );
    }

    #[test]
    fn undated_events_apply_and_keep_the_old_order() {
        let m = mem(Gate::Passed, 5);
        let mut e = event("ERROR", 1, 1);
        e.analysed_at = None;
        e.changed_at = None;
        let d = decide(Some(&m), &e, t(9));
        assert!(matches!(d, Decision::Notify(_)));
        assert_eq!(remember(Some(&m), &e, &d, t(9)).unwrap().order, m.order);
    }
}
