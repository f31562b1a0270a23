//! `/metrics`, `/healthz` and `/readyz` over real HTTP: a webhook storm with one transition that is
//! delivered, rate limited once and refused once shows in every metric family, and readiness follows
//! the database.

use std::collections::HashMap;

use sonar_slack::domain::signature::sonar_signature;
use sonar_slack::testing::fake_slack::Scripted;

use super::helpers::*;

const PULL_REQUEST: &str = include_str!("../fixtures/sonarqube/pull-request.json");

/// The samples of a scrape, by `name{labels}` as written; also checks each line's shape.
fn samples(text: &str) -> HashMap<String, f64> {
    let mut out = HashMap::new();
    let mut typed = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            assert!(text.contains(&format!("# HELP {name} ")), "no HELP: {name}");
            typed.push(name.to_owned());
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (key, value) = line.rsplit_once(' ').expect("sample line");
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value in {line}")),
        };
        let name = key.split('{').next().unwrap_or_default();
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .filter(|f| typed.iter().any(|t| t == f))
            .unwrap_or(name);
        assert_eq!(
            typed.last().map(String::as_str),
            Some(family),
            "sample outside its family: {line}"
        );
        assert!(
            out.insert(key.to_owned(), value).is_none(),
            "repeated: {line}"
        );
    }
    out
}

async fn scrape(app: &TestApp) -> (String, HashMap<String, f64>) {
    let res = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .expect("metrics");
    assert_eq!(res.status(), 200);
    let content_type = res.headers()["content-type"]
        .to_str()
        .unwrap_or("")
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = res.text().await.expect("text");
    let parsed = samples(&text);
    (text, parsed)
}

async fn readyz(app: &TestApp) -> (u16, serde_json::Value) {
    let res = app
        .client
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .expect("readyz");
    let status = res.status().as_u16();
    (status, res.json().await.expect("readyz json"))
}

#[tokio::test]
async fn a_webhook_storm_shows_in_every_metric_family() {
    for db in databases().await {
        let fake = fake_slack();
        let app = TestApp::spawn(&db, &fake).await;
        app.setup(&fake, &["C0SENT", "C0LIMIT", "C0FAIL"]).await;
        fake.script(
            "C0LIMIT",
            [Scripted::RateLimited {
                retry_after: Some("0".into()),
            }],
        );
        fake.script("C0FAIL", [Scripted::Error("mystery_error".into())]);

        assert_eq!(app.decision(&at(PASSED, 0)).await, "first_status");
        // Ten copies of the breaking analysis at once: one transition, nine duplicates.
        let failed = at(FAILED, 10);
        let answers = futures_util::future::join_all((0..10).map(|_| app.decision(&failed))).await;
        assert_eq!(answers.iter().filter(|d| *d == "notified").count(), 1);
        assert_eq!(app.decision(&at(PASSED, 5)).await, "stale");
        let pull_request = edit(PULL_REQUEST, |v| {
            v["serverUrl"] = SERVER.into();
            v["project"]["key"] = PROJECT.into();
        });
        assert_eq!(app.decision(&pull_request).await, "pull_request");
        let body = at(PASSED, 40);
        assert_eq!(app.post(&body, Some("deadbeef")).await.status(), 401);
        let other = edit(PASSED, |v| v["serverUrl"] = "http://elsewhere:9000".into());
        let signed = sonar_signature(SECRET.as_bytes(), &other);
        assert_eq!(app.post(&other, Some(&signed)).await.status(), 403);
        assert_eq!(app.post_signed(b"{\"serverUrl\": ").await.status(), 400);

        // Counters move right after the database records the outcome: wait on them.
        let deadline = tokio::time::Instant::now() + WAIT;
        let (text, m) = loop {
            let (text, m) = scrape(&app).await;
            let get = |k: &str| m.get(k).copied().unwrap_or(0.0);
            if get("sonar_slack_deliveries_total{outcome=\"sent\"}") == 2.0
                && get("sonar_slack_deliveries_total{outcome=\"failed\"}") == 1.0
            {
                break (text, m);
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "deliveries did not end: {text}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        };
        let get = |k: &str| {
            *m.get(k)
                .unwrap_or_else(|| panic!("{} has no {k}: {text}", db.kind))
        };
        for (outcome, n) in [
            ("first_status", 1.0),
            ("notified", 1.0),
            ("duplicate", 9.0),
            ("stale", 1.0),
            ("pull_request", 1.0),
            ("bad_signature", 1.0),
            ("unknown_server", 1.0),
            ("bad_request", 1.0),
        ] {
            assert_eq!(
                get(&format!(
                    "sonar_slack_webhooks_received_total{{outcome=\"{outcome}\"}}"
                )),
                n,
                "{outcome} on {}",
                db.kind
            );
        }
        assert_eq!(get("sonar_slack_transitions_total{to=\"failed\"}"), 1.0);
        assert_eq!(get("sonar_slack_transitions_total{to=\"passed\"}"), 0.0);
        assert_eq!(get("sonar_slack_slack_rate_limited_total"), 1.0);
        assert_eq!(get("sonar_slack_delivery_latency_seconds_count"), 2.0);
        assert_eq!(
            get("sonar_slack_delivery_latency_seconds_bucket{le=\"+Inf\"}"),
            2.0
        );
        assert!(get("sonar_slack_delivery_latency_seconds_sum") > 0.0);
        assert!(get("sonar_slack_delivery_latency_seconds_bucket{le=\"0.05\"}") <= 2.0);
        for (state, n) in [
            ("pending", 0.0),
            ("in_flight", 0.0),
            ("sent", 2.0),
            ("failed", 1.0),
        ] {
            assert_eq!(
                get(&format!("sonar_slack_deliveries{{state=\"{state}\"}}")),
                n,
                "{state} on {}",
                db.kind
            );
        }
        assert_eq!(get("sonar_slack_actors{kind=\"project\"}"), 1.0);
        assert_eq!(get("sonar_slack_actors{kind=\"channel\"}"), 3.0);
        // What the database says agrees with the counters.
        let rows = app.settled().await;
        assert_eq!(rows.iter().filter(|d| d.status == "sent").count(), 2);
        assert_eq!(fake.messages().len(), 2);

        let (status, body) = readyz(&app).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["status"], "ready");
        assert_eq!(body["database"]["status"], "ok");
        assert_eq!(body["actors"]["projects"], 1);
        assert_eq!(body["actors"]["channels"], 3);
        app.crash().await;
        db.cleanup().await;
    }
}

/// PostgreSQL: the test database is dropped (connections terminated), a real outage. SQLite: a file
/// cannot be taken from under open connections, so the service's connection pool is closed instead.
#[tokio::test]
async fn readyz_fails_with_the_database_and_says_what_to_do() {
    for db in databases().await {
        let fake = fake_slack();
        let app = TestApp::spawn(&db, &fake).await;
        let (status, body) = readyz(&app).await;
        assert_eq!(status, 200, "{body}");
        let kind = db.kind;
        if kind == "postgres" {
            db.cleanup().await;
        } else {
            app.close_service_database().await;
        }

        let deadline = tokio::time::Instant::now() + WAIT;
        let body = loop {
            let (status, body) = readyz(&app).await;
            if status == 503 {
                break body;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "still ready: {body}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        };
        assert_eq!(body["status"], "not_ready", "{body}");
        assert_eq!(body["database"]["status"], "failed", "{body}");
        assert!(
            body["database"]["error"]
                .as_str()
                .is_some_and(|e| !e.is_empty()),
            "{body}"
        );
        assert!(
            body["database"]["action"]
                .as_str()
                .is_some_and(|a| a.contains("SONAR_SLACK_DATABASE_URL")),
            "{body}"
        );
        assert_eq!(
            body["actors"]["status"], "ok",
            "the actors still answer: {body}"
        );
        let head = app
            .client
            .head(format!("{}/readyz", app.base))
            .send()
            .await
            .expect("head");
        assert_eq!(head.status(), 503);
        // Liveness does not depend on the database; metrics still render, and say what is missing.
        let live = app
            .client
            .get(format!("{}/healthz", app.base))
            .send()
            .await
            .expect("healthz");
        assert_eq!(live.status(), 200);
        let (text, m) = scrape(&app).await;
        assert!(
            text.contains("# sonar_slack_deliveries not available in this scrape: "),
            "{kind}: {text}"
        );
        assert!(!text.contains("sonar_slack_deliveries{"), "{text}");
        assert!(m.contains_key("sonar_slack_actors{kind=\"project\"}"));
        assert!(m.contains_key("sonar_slack_transitions_total{to=\"failed\"}"));
        eprintln!("{kind}: /readyz said {}", body["database"]["error"]);
        app.crash().await;
    }
}

/// The acceptance check: `demo` ends its pipeline part with its own `/metrics`, and the counters of
/// the work it did are there, non-zero.
#[test]
fn the_demo_prints_its_own_metrics_with_the_work_it_did() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sonar-slack"))
        .arg("demo")
        .env_remove("RUST_LOG")
        .output()
        .expect("demo runs");
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, metrics) = printed
        .split_once("/metrics (non-zero samples")
        .unwrap_or_else(|| panic!("no metrics in the demo's output: {printed}"));
    for line in [
        "sonar_slack_webhooks_received_total{outcome=\"notified\"} 2",
        "sonar_slack_webhooks_received_total{outcome=\"bad_request\"} 1",
        "sonar_slack_transitions_total{to=\"failed\"} 1",
        "sonar_slack_transitions_total{to=\"passed\"} 1",
        "sonar_slack_deliveries_total{outcome=\"sent\"} 4",
        "sonar_slack_slack_rate_limited_total 1",
        "sonar_slack_delivery_latency_seconds_count 4",
        "sonar_slack_deliveries{state=\"sent\"} 4",
        "sonar_slack_actors{kind=\"channel\"} 2",
    ] {
        assert!(metrics.contains(line), "{line} not in: {metrics}");
    }
}
