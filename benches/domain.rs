//! Micro-benchmarks of the pure hot path: parse a webhook, decide, render the Slack message.

use chrono::Utc;
use criterion::{Criterion, criterion_group, criterion_main};
use sonar_slack::domain::decision::{Gate, OrderKey, ProjectMemory, decide};
use sonar_slack::domain::message::render;
use sonar_slack::domain::signature::sonar_signature;
use sonar_slack::domain::webhook::parse_event;

const FAILED: &[u8] = include_bytes!("../tests/fixtures/sonarqube/main-branch-failed.json");

fn domain(c: &mut Criterion) {
    let now = Utc::now();
    c.bench_function("verify hmac (1.3 KiB body)", |b| {
        b.iter(|| sonar_signature(b"secret", FAILED))
    });
    c.bench_function("parse webhook", |b| b.iter(|| parse_event(FAILED)));
    let event = parse_event(FAILED).expect("fixture parses");
    let memory = ProjectMemory {
        gate: Gate::Passed,
        order: OrderKey::default(),
        failing_since: None,
    };
    c.bench_function("decide", |b| b.iter(|| decide(Some(&memory), &event, now)));
    let sonar_slack::domain::decision::Decision::Notify(t) = decide(Some(&memory), &event, now)
    else {
        panic!("the failed fixture after a pass must notify");
    };
    c.bench_function("render block kit", |b| b.iter(|| render(&event, &t, now)));
}

criterion_group!(benches, domain);
criterion_main!(benches);
