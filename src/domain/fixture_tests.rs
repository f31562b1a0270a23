//! Every real webhook body in `tests/fixtures/sonarqube/` parses and leads to the decision its shape
//! calls for, both as a project's first event and after a known opposite gate.

use chrono::{TimeZone, Utc};

use super::decision::{Decision, Gate, IgnoreReason, OrderKey, ProjectMemory, Transition, decide};
use super::webhook::{BranchKind, GateStatus, parse_event};

macro_rules! fixture {
    ($name:literal) => {
        (
            $name,
            include_bytes!(concat!("../../tests/fixtures/sonarqube/", $name)).as_slice(),
        )
    };
}

/// (file, expected gate or None when ignored, expected branch kind)
const CASES: &[(&str, &[u8])] = &[
    fixture!("docs-example.json"),
    fixture!("failed-condition-without-value.json"),
    fixture!("legacy-docs-example.json"),
    fixture!("legacy-warn-status.json"),
    fixture!("main-branch-failed.json"),
    fixture!("main-branch-passed.json"),
    fixture!("no-branch-object.json"),
    fixture!("pull-request.json"),
];

fn expected(name: &str) -> Option<Gate> {
    match name {
        "failed-condition-without-value.json" | "main-branch-failed.json" => Some(Gate::Failed),
        "pull-request.json" => None,
        _ => Some(Gate::Passed),
    }
}

fn memory_before(gate: Gate) -> ProjectMemory {
    let long_ago = Utc.with_ymd_and_hms(2010, 1, 1, 0, 0, 0).unwrap();
    ProjectMemory {
        gate,
        order: OrderKey {
            analysed_at: Some(long_ago),
            changed_at: Some(long_ago),
        },
        failing_since: Some(long_ago),
    }
}

#[test]
fn every_fixture_parses() {
    for (name, body) in CASES {
        let event = parse_event(body).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!event.project_key.as_str().is_empty(), "{name}");
        assert!(
            event.analysed_at.is_some(),
            "{name}: every fixture has an analysis date"
        );
    }
}

#[test]
fn every_fixture_decides_as_its_shape_calls_for() {
    let now = Utc::now();
    for (name, body) in CASES {
        let event = parse_event(body).unwrap();
        match expected(name) {
            None => {
                assert_eq!(
                    decide(None, &event, now),
                    Decision::Ignore(IgnoreReason::PullRequest {
                        key: "PR-1337".into()
                    }),
                    "{name}"
                );
            }
            Some(gate) => {
                assert_eq!(
                    decide(None, &event, now),
                    Decision::RecordFirst(gate),
                    "{name}: first seen"
                );
                assert_eq!(
                    decide(Some(&memory_before(gate)), &event, now),
                    Decision::RecordUnchanged(gate),
                    "{name}: same gate"
                );
                let opposite = if gate == Gate::Passed {
                    Gate::Failed
                } else {
                    Gate::Passed
                };
                let d = decide(Some(&memory_before(opposite)), &event, now);
                assert!(
                    matches!(d, Decision::Notify(Transition { from, to, .. }) if from == opposite && to == gate),
                    "{name}: {d:?}"
                );
            }
        }
    }
}

#[test]
fn fixture_details_are_read_right() {
    let get = |n: &str| parse_event(CASES.iter().find(|(name, _)| *name == n).unwrap().1).unwrap();
    let legacy = get("legacy-warn-status.json");
    assert_eq!(legacy.gate, Some(GateStatus::Warn));
    assert_eq!(
        legacy.analysed_at,
        Some(Utc.with_ymd_and_hms(2017, 7, 14, 2, 40, 0).unwrap())
    );
    assert_eq!(
        get("no-branch-object.json").branch,
        BranchKind::Main { name: None }
    );
    assert_eq!(
        get("main-branch-failed.json").branch,
        BranchKind::Main {
            name: Some("master".into())
        }
    );
    let no_value = get("failed-condition-without-value.json");
    assert_eq!(no_value.conditions[2].value, None);
    assert_eq!(
        get("legacy-docs-example.json").project_key.as_str(),
        "org.sonarqube:example"
    );
    assert_eq!(
        get("docs-example.json").revision.as_deref(),
        Some("c739069ec7105e01303e8b3065a81141aad9f129")
    );
    assert_eq!(
        get("docs-example.json").server_url.as_str(),
        "<mySonarqubeURL>"
    );
    // The same taskId and time with another gate is not a repeat: posting the passed fixture and
    // then the failed one as they are must be a transition.
    assert_ne!(
        get("main-branch-failed.json").dedupe_key,
        get("main-branch-passed.json").dedupe_key
    );
    assert_eq!(
        get("main-branch-failed.json").dedupe_key,
        get("failed-condition-without-value.json").dedupe_key
    );
}
