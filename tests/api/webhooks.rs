//! `POST /webhooks/sonarqube`: what is accepted, what each shape decides, and what is refused
//! without storing anything.

use crate::helpers::*;

const FIXTURES: &[(&str, &str)] = &[
    (
        "docs-example.json",
        include_str!("../fixtures/sonarqube/docs-example.json"),
    ),
    (
        "failed-condition-without-value.json",
        include_str!("../fixtures/sonarqube/failed-condition-without-value.json"),
    ),
    (
        "legacy-docs-example.json",
        include_str!("../fixtures/sonarqube/legacy-docs-example.json"),
    ),
    (
        "legacy-warn-status.json",
        include_str!("../fixtures/sonarqube/legacy-warn-status.json"),
    ),
    (
        "main-branch-failed.json",
        include_str!("../fixtures/sonarqube/main-branch-failed.json"),
    ),
    (
        "main-branch-passed.json",
        include_str!("../fixtures/sonarqube/main-branch-passed.json"),
    ),
    (
        "no-branch-object.json",
        include_str!("../fixtures/sonarqube/no-branch-object.json"),
    ),
    (
        "pull-request.json",
        include_str!("../fixtures/sonarqube/pull-request.json"),
    ),
];

#[tokio::test]
async fn every_fixture_is_accepted_with_the_decision_its_shape_calls_for() {
    for db in databases().await {
        let fake = fake_slack();
        let app = TestApp::spawn(&db, &fake).await;
        for server in [
            "<mySonarqubeURL>",
            "http://localhost:9000",
            "http://foo",
            "https://example.com/sonarqube",
        ] {
            app.add_connection(server, Some(SECRET)).await;
        }
        for (name, body) in FIXTURES {
            let expected = if *name == "pull-request.json" {
                "pull_request"
            } else {
                "first_status"
            };
            // Each fixture on a fresh project key, so every main-branch one is a first status.
            let body = edit(body, |v| {
                v["project"]["key"] = format!("fixture-{name}").into()
            });
            assert_eq!(app.decision(&body).await, expected, "{name} on {}", db.kind);
        }
        let (events, states, deliveries) = app.counts().await;
        assert_eq!((events, states, deliveries), (8, 7, 0), "{}", db.kind);
        app.crash().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_transition_posts_once_per_subscribed_channel_and_ignored_shapes_post_nothing() {
    for db in databases().await {
        let fake = fake_slack();
        let app = TestApp::spawn(&db, &fake).await;
        app.setup(&fake, &["C0AAA", "C0BBB"]).await;

        assert_eq!(app.decision(&at(PASSED, 0)).await, "first_status");
        assert_eq!(app.decision(&at(PASSED, 1)).await, "unchanged");
        // Ignored shapes, each newer than the last applied event and failing: none may notify.
        let pr = edit(FAILED, |v| {
            v["analysedAt"] = "2024-05-01T10:02:00+0000".into();
            v["branch"] =
                serde_json::json!({"name": "45", "type": "PULL_REQUEST", "isMain": false});
        });
        assert_eq!(app.decision(&pr).await, "pull_request");
        let branch = edit(FAILED, |v| {
            v["analysedAt"] = "2024-05-01T10:03:00+0000".into();
            v["branch"] =
                serde_json::json!({"name": "feature/x", "type": "BRANCH", "isMain": false});
        });
        assert_eq!(app.decision(&branch).await, "not_main_branch");
        let short = edit(FAILED, |v| {
            v["analysedAt"] = "2024-05-01T10:03:30+0000".into();
            v["branch"] = serde_json::json!({"name": "fix", "type": "SHORT"});
        });
        assert_eq!(app.decision(&short).await, "pull_request");
        let task_failed = edit(FAILED, |v| {
            v["analysedAt"] = "2024-05-01T10:04:00+0000".into();
            v["status"] = "FAILED".into();
            v.as_object_mut().map(|o| o.remove("qualityGate"));
        });
        assert_eq!(app.decision(&task_failed).await, "task_failed");
        let no_gate = edit(FAILED, |v| {
            v["analysedAt"] = "2024-05-01T10:05:00+0000".into();
            v.as_object_mut().map(|o| o.remove("qualityGate"));
        });
        assert_eq!(app.decision(&no_gate).await, "no_quality_gate");
        let stale = at(FAILED, 0);
        assert_eq!(app.decision(&stale).await, "stale");
        assert!(
            app.deliveries().await.is_empty(),
            "nothing ignored may create a delivery"
        );

        // The real transition: exactly one post per channel.
        let failing = at(FAILED, 10);
        let res = app.post_signed(&failing).await;
        let json: serde_json::Value = res.json().await.expect("json");
        assert_eq!(
            (json["decision"].as_str(), json["channels"].as_u64()),
            (Some("notified"), Some(2))
        );
        // The same delivery again (SonarQube calls project- and global-level webhooks alike).
        assert_eq!(app.decision(&failing).await, "duplicate");
        // The issue-edit shape (no taskId) with a later changedAt keeps the gate failed.
        let edit_event = edit(FAILED, |v| {
            v["analysedAt"] = "2024-05-01T10:10:00+0000".into();
            v["changedAt"] = "2024-05-01T10:12:00+0000".into();
            v.as_object_mut().map(|o| o.remove("taskId"));
        });
        assert_eq!(app.decision(&edit_event).await, "unchanged");
        assert_eq!(
            app.decision(&edit_event).await,
            "duplicate",
            "same body without taskId"
        );

        let messages = fake.wait_for_messages(2, WAIT).await.expect("two posts");
        let mut channels: Vec<_> = messages.iter().map(|m| m.channel.clone()).collect();
        channels.sort();
        assert_eq!(channels, ["C0AAA", "C0BBB"]);
        assert!(
            messages
                .iter()
                .all(|m| m.text.starts_with("Quality gate failed for test-sonar")),
            "{messages:?}"
        );
        let settled = app.settled().await;
        assert_eq!(settled.len(), 2);
        assert!(
            settled
                .iter()
                .all(|d| d.status == "sent" && d.slack_ts.is_some())
        );
        assert_eq!(fake.messages().len(), 2, "no extra post");
        app.crash().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn refused_requests_store_nothing_and_say_why() {
    for db in databases().await {
        let fake = fake_slack();
        let app = TestApp::spawn(&db, &fake).await;
        app.setup(&fake, &["C0AAA"]).await;
        let body = at(FAILED, 1);

        let res = app.post(&body, None).await;
        assert_eq!(res.status(), 401);
        let json: serde_json::Value = res.json().await.expect("json");
        assert_eq!(json["error"], "bad_signature");
        assert!(
            json["message"]
                .as_str()
                .unwrap_or_default()
                .contains("missing"),
            "{json}"
        );

        let res = app.post(&body, Some(&"0".repeat(64))).await;
        assert_eq!(res.status(), 401);
        let wrong_key = sonar_slack::domain::signature::sonar_signature(b"not-the-secret", &body);
        assert_eq!(app.post(&body, Some(&wrong_key)).await.status(), 401);

        let unknown = edit(FAILED, |v| {
            v["serverUrl"] = "https://sq.unknown.example".into()
        });
        let res = app.post_signed(&unknown).await;
        assert_eq!(res.status(), 403);
        let json: serde_json::Value = res.json().await.expect("json");
        assert!(
            json["message"]
                .as_str()
                .unwrap_or_default()
                .contains("sonar-slack connections add --server-url https://sq.unknown.example"),
            "{json}"
        );

        let res = app
            .post_signed(b"{\"serverUrl\": \"http://localhost:9000\", ")
            .await;
        assert_eq!(res.status(), 400);
        let json: serde_json::Value = res.json().await.expect("json");
        assert!(
            json["message"]
                .as_str()
                .unwrap_or_default()
                .contains("not valid JSON"),
            "{json}"
        );

        let no_key = edit(FAILED, |v| v["project"] = serde_json::json!({"name": "x"}));
        let res = app.post_signed(&no_key).await;
        assert_eq!(res.status(), 400);
        let json: serde_json::Value = res.json().await.expect("json");
        assert!(
            json["message"].as_str().unwrap_or_default().contains("key"),
            "{json}"
        );

        let mut huge = at(FAILED, 2);
        huge.truncate(huge.len() - 1);
        huge.extend_from_slice(
            format!(",\"padding\":\"{}\"}}", "x".repeat(1024 * 1024)).as_bytes(),
        );
        let res = app.post_signed(&huge).await;
        assert_eq!(res.status(), 413);

        assert_eq!(
            app.counts().await,
            (0, 0, 0),
            "{}: a refused request stores nothing",
            db.kind
        );
        app.crash().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn concurrent_webhooks_for_one_project_do_not_race() {
    for db in databases().await {
        let fake = fake_slack();
        let app = TestApp::spawn(&db, &fake).await;
        app.setup(&fake, &["C0AAA"]).await;
        assert_eq!(app.decision(&at(PASSED, 0)).await, "first_status");
        // Twenty copies of the same failing analysis at once: one transition, nineteen duplicates.
        let body = at(FAILED, 5);
        let posts = (0..20).map(|_| app.post_signed(&body));
        let answers = futures_util::future::join_all(posts).await;
        let mut decisions = Vec::new();
        for a in answers {
            assert_eq!(a.status(), 200);
            let json: serde_json::Value = a.json().await.expect("json");
            decisions.push(json["decision"].as_str().unwrap_or_default().to_owned());
        }
        assert_eq!(
            decisions.iter().filter(|d| *d == "notified").count(),
            1,
            "{decisions:?}"
        );
        assert_eq!(
            decisions.iter().filter(|d| *d == "duplicate").count(),
            19,
            "{decisions:?}"
        );
        assert_eq!(app.settled().await.len(), 1);
        app.crash().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn health_and_metrics_answer() {
    for db in databases().await {
        let fake = fake_slack();
        let app = TestApp::spawn(&db, &fake).await;
        let res = app
            .client
            .get(format!("{}/healthz", app.base))
            .send()
            .await
            .expect("healthz");
        assert_eq!(res.status(), 200);
        let res = app
            .client
            .get(format!("{}/readyz", app.base))
            .send()
            .await
            .expect("readyz");
        assert_eq!(res.status(), 200);
        let metrics = app
            .client
            .get(format!("{}/metrics", app.base))
            .send()
            .await
            .expect("metrics");
        let metrics = metrics.text().await.expect("text");
        for line in [
            "# TYPE sonar_slack_webhooks_received_total counter",
            "sonar_slack_deliveries_total{outcome=\"sent\"} 0",
            "sonar_slack_delivery_latency_seconds_count 0",
            "sonar_slack_deliveries{state=\"pending\"} 0",
            "sonar_slack_actors{kind=\"channel\"} 0",
        ] {
            assert!(metrics.contains(line), "{line} in {metrics}");
        }
        // Load balancers probe with HEAD; a wrong method is told which ones exist.
        for path in ["/healthz", "/readyz", "/metrics"] {
            let head = app.client.head(format!("{}{path}", app.base)).send().await;
            assert_eq!(head.expect("head").status(), 200, "HEAD {path}");
        }
        for (method, path, allow) in [
            (reqwest::Method::GET, "/slack/commands", "POST"),
            (reqwest::Method::PUT, "/webhooks/sonarqube", "POST"),
            (reqwest::Method::POST, "/slack/install", "GET"),
            (reqwest::Method::DELETE, "/connect/abc", "GET, POST"),
        ] {
            let res = app
                .client
                .request(method.clone(), format!("{}{path}", app.base))
                .send()
                .await
                .expect("request");
            assert_eq!(res.status(), 405, "{method} {path}");
            assert_eq!(res.headers()["allow"], allow, "{method} {path}");
        }
        let res = app.client.get(format!("{}/nope", app.base)).send().await;
        assert_eq!(res.expect("get").status(), 404);
        app.crash().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_rotated_secret_counts_at_once_though_connections_are_cached() {
    for db in databases().await {
        let fake = fake_slack();
        let app = TestApp::spawn(&db, &fake).await;
        let connection = app.setup(&fake, &["C0AAA"]).await;
        // This webhook puts the connection, with its old secret, in the service's cache.
        assert_eq!(app.decision(&at(PASSED, 0)).await, "first_status");
        let sealed = app.sealer.seal(
            "rotated-secret",
            &sonar_slack::store::catalog::webhook_secret_context(SERVER),
        );
        sonar_slack::store::catalog::update_connection(
            &app.db,
            connection,
            Some(Some(sealed)),
            None,
        )
        .await
        .expect("rotate");
        let body = at(FAILED, 10);
        let signature = sonar_slack::domain::signature::sonar_signature(b"rotated-secret", &body);
        let res = app.post(&body, Some(&signature)).await;
        assert_eq!(res.status(), 200, "{:?}", res.text().await);
        let old = at(PASSED, 20);
        assert_eq!(
            app.post_signed(&old).await.status(),
            401,
            "the old secret is refused"
        );
        app.crash().await;
        db.cleanup().await;
    }
}
