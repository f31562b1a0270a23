//! [`SonarClient`] against [`FakeSonar`] over real HTTP.

use std::time::Duration;

use secrecy::SecretString;

use super::*;
use crate::domain::types::{ProjectKey, ServerUrl};
use crate::testing::fake_sonar::FakeSonar;

const TOKEN: &str = "squ_0123456789abcdef0123456789abcdef01234567";

struct Setup {
    sonar: FakeSonar,
    client: SonarClient,
    base: ServerUrl,
    token: SecretString,
}

fn setup() -> Setup {
    let sonar = FakeSonar::start().unwrap();
    sonar.add_user(TOKEN, "ada", "Ada Lovelace");
    sonar.add_project("org:svc", "Service", "ERROR");
    sonar.add_project("org:secret", "Secret", "OK");
    sonar.grant_browse("ada", "org:svc");
    let base = ServerUrl::parse(&format!("{}/", sonar.url())).unwrap();
    Setup {
        client: SonarClient::new(Duration::from_secs(5)).unwrap(),
        sonar,
        base,
        token: SecretString::from(TOKEN),
    }
}

fn key(raw: &str) -> ProjectKey {
    ProjectKey::parse(raw).unwrap()
}

fn assert_no_token(error: &SonarError) {
    for text in [error.to_string(), format!("{error:?}")] {
        assert!(!text.contains(TOKEN), "{text}");
        assert!(!text.contains("0123456789abcdef"), "{text}");
    }
}

#[tokio::test]
async fn valid_token_user_access_and_gate() {
    let s = setup();
    let user = s.client.current_user(&s.base, &s.token).await.unwrap();
    assert_eq!(
        user,
        SonarUser {
            login: "ada".into(),
            name: Some("Ada Lovelace".into())
        }
    );
    let access = s.client.component(&s.base, &s.token, &key("org:svc")).await;
    let name = Some("Service".to_owned());
    assert_eq!(access.unwrap(), Access::Browse { name });
    let gate = s
        .client
        .gate_status(&s.base, &s.token, &key("org:svc"))
        .await;
    assert_eq!(
        gate.unwrap().gate(),
        Some(crate::domain::decision::Gate::Failed)
    );
    s.sonar.set_gate("org:svc", "NONE");
    let gate = s
        .client
        .gate_status(&s.base, &s.token, &key("org:svc"))
        .await;
    assert_eq!(gate.unwrap(), RemoteGate::None);
    let requests = s.sonar.requests();
    let sent: Vec<(&str, &str)> = requests
        .iter()
        .map(|r| (r.path.as_str(), r.query.as_str()))
        .collect();
    assert_eq!(
        sent,
        [
            ("/api/users/current", ""),
            ("/api/components/show", "component=org%3Asvc"),
            ("/api/qualitygates/project_status", "projectKey=org%3Asvc"),
            ("/api/qualitygates/project_status", "projectKey=org%3Asvc"),
        ]
    );
    assert!(requests.iter().all(|r| r.login.as_deref() == Some("ada")));
}

#[tokio::test]
async fn denied_and_unknown_projects() {
    let s = setup();
    let secret = key("org:secret");
    let access = s.client.component(&s.base, &s.token, &secret).await;
    assert_eq!(access.unwrap(), Access::Denied);
    let missing = key("org:missing");
    let access = s.client.component(&s.base, &s.token, &missing).await;
    assert_eq!(access.unwrap(), Access::NotFound);
    let error = s
        .client
        .gate_status(&s.base, &s.token, &secret)
        .await
        .unwrap_err();
    assert!(matches!(error, SonarError::Unexpected { status: 403, .. }));
    assert!(error.to_string().contains("Browse permission"), "{error}");
    let error = s
        .client
        .gate_status(&s.base, &s.token, &missing)
        .await
        .unwrap_err();
    assert!(matches!(error, SonarError::Unexpected { status: 404, .. }));
    assert!(
        error.to_string().contains("'org:missing' not found"),
        "{error}"
    );
    assert_no_token(&error);
}

#[tokio::test]
async fn wrong_and_expired_tokens_are_rejected() {
    let s = setup();
    let wrong = SecretString::from("squ_wrong_wrong_wrong");
    let error = s.client.current_user(&s.base, &wrong).await.unwrap_err();
    assert!(matches!(
        error,
        SonarError::TokenRejected {
            anonymous: false,
            ..
        }
    ));
    assert!(!error.to_string().contains("squ_wrong"));
    s.sonar.expire_token(TOKEN);
    let mut errors = vec![s.client.current_user(&s.base, &s.token).await.unwrap_err()];
    let svc = key("org:svc");
    errors.push(
        s.client
            .component(&s.base, &s.token, &svc)
            .await
            .unwrap_err(),
    );
    errors.push(
        s.client
            .gate_status(&s.base, &s.token, &svc)
            .await
            .unwrap_err(),
    );
    for error in &errors {
        assert!(matches!(
            error,
            SonarError::TokenRejected {
                anonymous: false,
                ..
            }
        ));
        let text = error.to_string();
        assert!(
            text.contains(s.base.as_str()) && text.contains("HTTP 401"),
            "{text}"
        );
        assert!(text.contains("/sonarqube connect"), "{text}");
        assert_no_token(error);
    }
}

#[tokio::test]
async fn anonymous_answer_is_a_rejected_token() {
    let s = setup();
    // A blank token is not sent, so SonarQube answers as for an anonymous caller (as when a proxy
    // drops the Authorization header).
    let blank = SecretString::from(" ");
    let error = s.client.current_user(&s.base, &blank).await.unwrap_err();
    assert!(matches!(
        error,
        SonarError::TokenRejected {
            anonymous: true,
            ..
        }
    ));
    assert!(error.to_string().contains("anonymous"), "{error}");
    let error = s
        .client
        .component(&s.base, &blank, &key("org:svc"))
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        SonarError::TokenRejected {
            anonymous: false,
            ..
        }
    ));
    let requests = s.sonar.requests();
    assert!(requests.iter().all(|r| !r.auth_sent && r.login.is_none()));
    assert_eq!(requests[0].status, 200);
}

#[tokio::test]
async fn server_down_slow_or_gone_is_unreachable() {
    let s = setup();
    s.sonar.set_down(true);
    let error = s.client.current_user(&s.base, &s.token).await.unwrap_err();
    let SonarError::Unreachable { server, what } = &error else {
        panic!("{error:?}");
    };
    assert_eq!(server, s.base.as_str());
    assert!(
        what.contains("HTTP 503") && what.contains("maintenance"),
        "{what}"
    );
    assert_no_token(&error);
    s.sonar.set_down(false);

    s.sonar.set_delay(Duration::from_millis(400));
    let impatient = SonarClient::new(Duration::from_millis(100)).unwrap();
    let error = impatient
        .component(&s.base, &s.token, &key("org:svc"))
        .await
        .unwrap_err();
    assert!(matches!(error, SonarError::Unreachable { .. }), "{error:?}");
    assert!(
        error.to_string().contains("no answer within 100ms"),
        "{error}"
    );
    assert_no_token(&error);

    s.sonar.stop();
    // A pooled connection the server closed fails differently from a refused one: both unreachable.
    let error = s.client.current_user(&s.base, &s.token).await.unwrap_err();
    assert!(matches!(error, SonarError::Unreachable { .. }), "{error:?}");
    assert_no_token(&error);
    let fresh = SonarClient::new(Duration::from_secs(5)).unwrap();
    let error = fresh.current_user(&s.base, &s.token).await.unwrap_err();
    assert!(matches!(error, SonarError::Unreachable { .. }), "{error:?}");
    let text = error.to_string();
    assert!(
        text.contains(&format!("SonarQube at {} is unavailable", s.base)),
        "{text}"
    );
    assert!(text.contains("connecting failed"), "{text}");
    assert_no_token(&error);
}

#[tokio::test]
async fn not_sonarqube_and_unusable_urls() {
    let s = setup();
    let wrong_path = ServerUrl::parse(&format!("{}/sonarqube", s.sonar.url())).unwrap();
    let error = s
        .client
        .current_user(&wrong_path, &s.token)
        .await
        .unwrap_err();
    assert!(matches!(error, SonarError::Unexpected { status: 404, .. }));
    assert!(error.to_string().contains("context path"), "{error}");
    let placeholder = ServerUrl::parse("<mySonarqubeURL>").unwrap();
    let error = s
        .client
        .current_user(&placeholder, &s.token)
        .await
        .unwrap_err();
    assert!(matches!(error, SonarError::Unreachable { .. }), "{error:?}");
    assert!(error.to_string().contains("cannot be used"), "{error}");
    assert_no_token(&error);
}

#[tokio::test]
async fn servers_before_10_get_the_token_as_basic_login() {
    let s = setup();
    s.sonar.set_basic_only(true);
    let user = s.client.current_user(&s.base, &s.token).await;
    assert_eq!(user.map(|u| u.login), Ok("ada".to_owned()));
    let access = s.client.component(&s.base, &s.token, &key("org:svc")).await;
    assert!(matches!(access, Ok(Access::Browse { .. })), "{access:?}");
    let bad = SecretString::from("squ_wrong");
    let user = s.client.current_user(&s.base, &bad).await;
    assert!(
        matches!(user, Err(SonarError::TokenRejected { .. })),
        "{user:?}"
    );
}
