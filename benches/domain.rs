//! Micro-benchmarks of the pure hot path (`cargo bench --bench domain`): parsing every fixture,
//! transition decisions, rendering messages with 1, 10 and 100 failed conditions, and both
//! signature checks (SonarQube's and Slack's).

use chrono::Utc;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use sonar_slack::domain::decision::{Decision, Gate, OrderKey, ProjectMemory, decide};
use sonar_slack::domain::message::render;
use sonar_slack::domain::signature::{sonar_signature, verify_sonar};
use sonar_slack::domain::slack_signature::{slack_signature, verify_slack};
use sonar_slack::domain::webhook::parse_event;

macro_rules! fixture {
    ($name:literal) => {
        (
            $name,
            include_bytes!(concat!("../tests/fixtures/sonarqube/", $name, ".json")).as_slice(),
        )
    };
}

const FIXTURES: [(&str, &[u8]); 8] = [
    fixture!("docs-example"),
    fixture!("failed-condition-without-value"),
    fixture!("legacy-docs-example"),
    fixture!("legacy-warn-status"),
    fixture!("main-branch-failed"),
    fixture!("main-branch-passed"),
    fixture!("no-branch-object"),
    fixture!("pull-request"),
];
const FAILED: &[u8] = include_bytes!("../tests/fixtures/sonarqube/main-branch-failed.json");

/// The failing fixture with `n` failed conditions.
fn with_conditions(n: usize) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_slice(FAILED).expect("fixture");
    let conditions: Vec<_> = (0..n)
        .map(|i| {
            let metric = [
                "coverage",
                "new_coverage",
                "duplicated_lines_density",
                "bugs",
            ][i % 4];
            serde_json::json!({
                "metric": metric, "operator": "LESS_THAN", "value": format!("{}.5", i % 70),
                "status": "ERROR", "errorThreshold": "80"
            })
        })
        .collect();
    v["qualityGate"]["conditions"] = conditions.into();
    serde_json::to_vec(&v).expect("json")
}

fn parsing(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    for (name, body) in FIXTURES {
        group.bench_with_input(BenchmarkId::from_parameter(name), body, |b, body| {
            b.iter(|| parse_event(body))
        });
    }
    group.finish();
}

fn decisions(c: &mut Criterion) {
    let now = Utc::now();
    let event = parse_event(FAILED).expect("fixture parses");
    let memory = |gate| ProjectMemory {
        gate,
        order: OrderKey::default(),
        failing_since: None,
    };
    let (passed, failed) = (memory(Gate::Passed), memory(Gate::Failed));
    let mut group = c.benchmark_group("decide");
    group.bench_function("first status", |b| b.iter(|| decide(None, &event, now)));
    group.bench_function("unchanged", |b| {
        b.iter(|| decide(Some(&failed), &event, now))
    });
    group.bench_function("transition", |b| {
        b.iter(|| decide(Some(&passed), &event, now))
    });
    group.finish();
}

fn rendering(c: &mut Criterion) {
    let now = Utc::now();
    let passed = ProjectMemory {
        gate: Gate::Passed,
        order: OrderKey::default(),
        failing_since: None,
    };
    let mut group = c.benchmark_group("render");
    for n in [1, 10, 100] {
        let event = parse_event(&with_conditions(n)).expect("parses");
        let Decision::Notify(t) = decide(Some(&passed), &event, now) else {
            panic!("a failure after a pass notifies");
        };
        group.bench_with_input(BenchmarkId::new("conditions", n), &event, |b, event| {
            b.iter(|| render(event, &t, now))
        });
    }
    group.finish();
}

fn signatures(c: &mut Criterion) {
    let sonar = sonar_signature(b"webhook-secret", FAILED);
    let now = Utc::now().timestamp();
    let ts = now.to_string();
    let slack = slack_signature(b"signing-secret", &ts, FAILED);
    let mut group = c.benchmark_group("signature");
    group.bench_function("sonarqube verify (1.3 KiB body)", |b| {
        b.iter(|| verify_sonar(b"webhook-secret", FAILED, Some(&sonar)))
    });
    group.bench_function("slack verify (1.3 KiB body)", |b| {
        b.iter(|| verify_slack(b"signing-secret", Some(&ts), Some(&slack), FAILED, now))
    });
    group.finish();
}

criterion_group!(benches, parsing, decisions, rendering, signatures);
criterion_main!(benches);
