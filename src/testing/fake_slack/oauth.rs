//! `oauth.v2.access`: client authentication, single-use install codes, rotating refresh tokens.

use std::collections::HashMap;

use actix_web::http::header::AUTHORIZATION;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use chrono::{DateTime, Utc};
use rand::distr::{Alphanumeric, SampleString};
use serde_json::{Value, json};

use super::failure::Failure;
use super::request::{header, params};
use super::{FakeSlack, Shared};

/// `expires_in` of issued tokens unless `set_token_lifetime` says otherwise (12 hours, as Slack).
pub const DEFAULT_TOKEN_LIFETIME_SECS: u64 = 43_200;

/// What an install grants once its `code` is exchanged.
#[derive(Clone, Debug)]
pub struct InstallGrant {
    pub team_id: Option<String>,
    pub team_name: Option<String>,
    pub enterprise_id: Option<String>,
    pub enterprise_name: Option<String>,
    pub is_enterprise_install: bool,
    pub bot_user_id: String,
    /// Issued as `access_token` and accepted afterwards for the team (or, org-wide, the enterprise).
    pub bot_token: String,
    /// Comma-separated, e.g. `commands,chat:write`.
    pub scopes: String,
    pub app_id: String,
    pub installer_user_id: String,
    /// Token rotation on: the answer also has `refresh_token` and `expires_in`.
    pub rotation: bool,
}

impl InstallGrant {
    /// A workspace install of `team_id` named "Fake", with `commands,chat:write`, no rotation.
    pub fn team(team_id: &str, bot_token: &str) -> Self {
        Self {
            team_id: Some(team_id.to_owned()),
            team_name: Some("Fake".to_owned()),
            enterprise_id: None,
            enterprise_name: None,
            is_enterprise_install: false,
            bot_user_id: "UFAKEBOT".to_owned(),
            bot_token: bot_token.to_owned(),
            scopes: "commands,chat:write".to_owned(),
            app_id: "AFAKEAPP".to_owned(),
            installer_user_id: "UINSTALLER".to_owned(),
            rotation: false,
        }
    }

    /// An org-wide (Enterprise Grid) install: `team` null, `enterprise` set.
    pub fn enterprise(enterprise_id: &str, bot_token: &str) -> Self {
        Self {
            team_id: None,
            team_name: None,
            enterprise_id: Some(enterprise_id.to_owned()),
            enterprise_name: Some("Fake Org".to_owned()),
            is_enterprise_install: true,
            ..Self::team("", bot_token)
        }
    }

    /// The key its tokens are registered under for the other methods.
    fn workspace(&self) -> String {
        let id = self.team_id.as_ref().or(self.enterprise_id.as_ref());
        id.cloned().unwrap_or_default()
    }
}

/// One `oauth.v2.access` request and its answer; client secrets are never kept.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OauthCall {
    /// `grant_type` as sent; `None` when absent (meaning `authorization_code`).
    pub grant_type: Option<String>,
    /// The client authenticated with HTTP Basic (else with form fields, or not at all).
    pub basic_auth: bool,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    /// The Slack error answered; `None` on success.
    pub error: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Default)]
pub(super) struct OauthState {
    /// (client_id, client_secret).
    client: Option<(String, String)>,
    redirect_uri: Option<String>,
    token_lifetime: Option<u64>,
    /// code → grant; a code is removed once exchanged.
    codes: HashMap<String, InstallGrant>,
    /// refresh token → grant; `None` once used.
    refresh_tokens: HashMap<String, Option<InstallGrant>>,
    calls: Vec<OauthCall>,
}

impl OauthState {
    pub(super) fn forget_calls(&mut self) {
        self.calls.clear();
    }

    fn lifetime(&self) -> u64 {
        self.token_lifetime.unwrap_or(DEFAULT_TOKEN_LIFETIME_SECS)
    }

    fn issue_refresh_token(&mut self, grant: &InstallGrant) -> String {
        let token = format!("xoxe-1-{}", random());
        self.refresh_tokens
            .insert(token.clone(), Some(grant.clone()));
        token
    }
}

impl FakeSlack {
    /// The app's credentials; until set, every `oauth.v2.access` gets `invalid_client_id`.
    pub fn set_client(&self, client_id: &str, client_secret: &str) {
        let client = (client_id.to_owned(), client_secret.to_owned());
        self.lock().oauth.client = Some(client);
    }

    /// Makes `code` exchangeable once for `grant` (replacing an earlier grant of that code).
    pub fn add_install(&self, code: &str, grant: InstallGrant) {
        self.lock().oauth.codes.insert(code.to_owned(), grant);
    }

    /// The redirect URI the installs were authorized with: code exchanges must then send exactly
    /// it (a missing one too gets `bad_redirect_uri`). Unset, any or none is accepted.
    pub fn set_redirect_uri(&self, uri: &str) {
        self.lock().oauth.redirect_uri = Some(uri.to_owned());
    }

    /// `expires_in` of tokens issued from now on (default `DEFAULT_TOKEN_LIFETIME_SECS`); tokens
    /// are never actually expired.
    pub fn set_token_lifetime(&self, secs: u64) {
        self.lock().oauth.token_lifetime = Some(secs);
    }

    /// Every `oauth.v2.access` request with what was answered, in answer order.
    pub fn oauth_calls(&self) -> Vec<OauthCall> {
        self.lock().oauth.calls.clone()
    }
}

/// Holding `oauth.v2.access` calls, so a test can act while one is under way.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Gate {
    held: bool,
    waiting: usize,
}

/// Waits while calls are held.
pub(super) async fn wait_at_gate(shared: &Shared) {
    let mut gate = shared.oauth_gate.subscribe();
    if !gate.borrow().held {
        return;
    }
    shared.oauth_gate.send_modify(|g| g.waiting += 1);
    let _ = gate.wait_for(|g| !g.held).await;
    shared.oauth_gate.send_modify(|g| g.waiting -= 1);
}

impl FakeSlack {
    /// `oauth.v2.access` calls wait, unanswered, until `release_oauth`.
    pub fn hold_oauth(&self) {
        self.inner.shared.oauth_gate.send_modify(|g| g.held = true);
    }

    /// Waits until `n` calls are held; needs a tokio runtime with timers.
    pub async fn wait_for_held_oauth(&self, n: usize, timeout: std::time::Duration) -> bool {
        let mut gate = self.inner.shared.oauth_gate.subscribe();
        tokio::time::timeout(timeout, gate.wait_for(|g| g.waiting >= n))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Answers the held calls and stops holding.
    pub fn release_oauth(&self) {
        self.inner.shared.oauth_gate.send_modify(|g| g.held = false);
    }
}

/// The fields of a request that matter, from the query string, a form body and the headers.
struct Request {
    grant_type: Option<String>,
    basic_auth: bool,
    client_id: Option<String>,
    client_secret: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    refresh_token: Option<String>,
}

impl Request {
    fn read(req: &HttpRequest, body: &[u8]) -> Result<Self, Failure> {
        let mut params = params(req, body)?;
        let mut take = |key: &str| params.remove(key).filter(|v| !v.is_empty());
        let (mut client_id, mut client_secret) = (take("client_id"), take("client_secret"));
        let authorization = header(req, AUTHORIZATION).and_then(|h| h.trim().split_once(' '));
        let basic = authorization.filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"));
        if let Some((_, encoded)) = basic {
            // HTTP Basic wins over form fields; undecodable credentials are an unknown client.
            let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim());
            let text = decoded.ok().and_then(|bytes| String::from_utf8(bytes).ok());
            let pair = text.as_deref().and_then(|t| t.split_once(':'));
            client_id = pair.map(|(id, _)| id.to_owned());
            client_secret = pair.map(|(_, secret)| secret.to_owned());
        }
        Ok(Self {
            grant_type: take("grant_type"),
            basic_auth: basic.is_some(),
            client_id,
            client_secret,
            code: take("code"),
            redirect_uri: take("redirect_uri"),
            refresh_token: take("refresh_token"),
        })
    }
}

/// Answers and records one `oauth.v2.access` call.
pub(super) fn access(
    req: &HttpRequest,
    body: Result<web::Bytes, Failure>,
    shared: &Shared,
) -> HttpResponse {
    let mut state = shared.lock();
    let state = &mut *state;
    let (request, answer) = match body.and_then(|bytes| Request::read(req, &bytes)) {
        Ok(request) => {
            let answer = exchange(&request, &mut state.oauth, &mut state.tokens);
            (Some(request), answer)
        }
        Err(failure) => (None, Err(failure)),
    };
    let (response, error) = match answer {
        Ok(reply) => (HttpResponse::Ok().json(reply), None),
        Err(failure) => failure.respond(),
    };
    let request = request.as_ref();
    state.oauth.calls.push(OauthCall {
        grant_type: request.and_then(|r| r.grant_type.clone()),
        basic_auth: request.is_some_and(|r| r.basic_auth),
        client_id: request.and_then(|r| r.client_id.clone()),
        redirect_uri: request.and_then(|r| r.redirect_uri.clone()),
        error,
        at: Utc::now(),
    });
    response
}

/// Slack's order: the client, then the grant.
fn exchange(
    request: &Request,
    oauth: &mut OauthState,
    tokens: &mut HashMap<String, Option<String>>,
) -> Result<Value, Failure> {
    let (client_id, client_secret) = oauth
        .client
        .as_ref()
        .ok_or_else(|| Failure::error("invalid_client_id"))?;
    if request.client_id.as_ref() != Some(client_id) {
        return Err(Failure::error("invalid_client_id"));
    }
    if request.client_secret.as_ref() != Some(client_secret) {
        return Err(Failure::error("bad_client_secret"));
    }
    let (grant, access_token, mut reply) = match request.grant_type.as_deref() {
        None | Some("authorization_code") => {
            let grant = redeem_code(request, oauth)?;
            let access_token = grant.bot_token.clone();
            let mut reply = grant_reply(&grant, &access_token);
            reply["authed_user"] = json!({
                "id": grant.installer_user_id, "scope": "", "access_token": null, "token_type": null,
            });
            (grant, access_token, reply)
        }
        Some("refresh_token") => {
            let grant = request
                .refresh_token
                .as_ref()
                .and_then(|token| oauth.refresh_tokens.get_mut(token))
                .and_then(Option::take) // single-use
                .ok_or_else(|| Failure::error("invalid_refresh_token"))?;
            let access_token = format!("xoxe.xoxb-1-{}", random());
            let reply = grant_reply(&grant, &access_token);
            (grant, access_token, reply)
        }
        Some(_) => return Err(Failure::error("invalid_grant_type")),
    };
    tokens.insert(access_token, Some(grant.workspace()));
    if grant.rotation {
        reply["refresh_token"] = oauth.issue_refresh_token(&grant).into();
        reply["expires_in"] = oauth.lifetime().into();
    }
    Ok(reply)
}

/// The grant of a known, unused code sent with the authorized redirect URI; the code is used up
/// only by a successful exchange.
fn redeem_code(request: &Request, oauth: &mut OauthState) -> Result<InstallGrant, Failure> {
    let code = request.code.as_deref().unwrap_or_default();
    if !oauth.codes.contains_key(code) {
        return Err(Failure::error("invalid_code"));
    }
    if oauth
        .redirect_uri
        .as_ref()
        .is_some_and(|uri| request.redirect_uri.as_ref() != Some(uri))
    {
        return Err(Failure::error("bad_redirect_uri"));
    }
    oauth
        .codes
        .remove(code)
        .ok_or_else(|| Failure::error("invalid_code"))
}

/// The fields common to code and refresh answers.
fn grant_reply(grant: &InstallGrant, access_token: &str) -> Value {
    let named = |id: &Option<String>, name: &Option<String>| {
        id.as_ref().map(|id| json!({ "id": id, "name": name }))
    };
    json!({
        "ok": true,
        "access_token": access_token,
        "token_type": "bot",
        "scope": grant.scopes,
        "bot_user_id": grant.bot_user_id,
        "app_id": grant.app_id,
        "team": named(&grant.team_id, &grant.team_name),
        "enterprise": named(&grant.enterprise_id, &grant.enterprise_name),
        "is_enterprise_install": grant.is_enterprise_install,
    })
}

fn random() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), 32)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::test_support::{JSON, call};
    use super::super::{FakeSlack, FakeSlackConfig};
    use super::InstallGrant;

    const ID: &str = "1234.5678";
    const SECRET: &str = "s3cr3t-value";
    const REDIRECT: &str = "https://sonar-slack.example/slack/oauth/callback";

    fn slack() -> FakeSlack {
        let slack = FakeSlack::start(FakeSlackConfig::default()).unwrap();
        slack.set_client(ID, SECRET);
        slack
    }

    /// POSTs the form to `oauth.v2.access`, with HTTP Basic credentials if given.
    async fn access(
        slack: &FakeSlack,
        basic: Option<(&str, &str)>,
        form: &[(&str, &str)],
    ) -> Value {
        let url = format!("{}/oauth.v2.access", slack.api_url());
        let request = reqwest::Client::new().post(url).form(form);
        let request = match basic {
            Some((id, secret)) => request.basic_auth(id, Some(secret)),
            None => request,
        };
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    async fn exchange(slack: &FakeSlack, code: &str) -> Value {
        let form = [("code", code), ("redirect_uri", REDIRECT)];
        access(slack, Some((ID, SECRET)), &form).await
    }

    async fn refresh(slack: &FakeSlack, refresh_token: &str) -> Value {
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ];
        access(slack, Some((ID, SECRET)), &form).await
    }

    async fn team_of(slack: &FakeSlack, token: &str) -> Value {
        call(slack, "auth.test", Some(token), JSON, b"").await.json["team_id"].clone()
    }

    #[tokio::test]
    async fn code_exchange_answers_slacks_shape_once_and_enables_the_token() {
        let slack = slack();
        slack.set_redirect_uri(REDIRECT);
        slack.add_install("code-1", InstallGrant::team("T9", "xoxb-9"));
        let reply = exchange(&slack, "code-1").await;
        let expected = json!({
            "ok": true, "access_token": "xoxb-9", "token_type": "bot", "scope": "commands,chat:write",
            "bot_user_id": "UFAKEBOT", "app_id": "AFAKEAPP", "team": { "name": "Fake", "id": "T9" },
            "enterprise": null, "is_enterprise_install": false,
            "authed_user": { "id": "UINSTALLER", "scope": "", "access_token": null, "token_type": null },
        });
        assert_eq!(reply, expected);
        assert_eq!(team_of(&slack, "xoxb-9").await, "T9");
        assert_eq!(exchange(&slack, "code-1").await["error"], "invalid_code");
        assert_eq!(
            exchange(&slack, "code-unknown").await["error"],
            "invalid_code"
        );
        let calls = slack.oauth_calls();
        let errors: Vec<_> = calls.iter().map(|c| c.error.as_deref()).collect();
        assert_eq!(errors, [None, Some("invalid_code"), Some("invalid_code")]);
        let first = &calls[0];
        assert!(first.basic_auth && first.grant_type.is_none());
        assert_eq!(
            (first.client_id.as_deref(), first.redirect_uri.as_deref()),
            (Some(ID), Some(REDIRECT))
        );
        slack.clear();
        assert!(slack.oauth_calls().is_empty());
    }

    #[tokio::test]
    async fn org_wide_install_has_an_enterprise_and_no_team() {
        let slack = slack();
        slack.add_install("code-e", InstallGrant::enterprise("E1", "xoxb-e"));
        let reply = exchange(&slack, "code-e").await;
        assert_eq!(reply["team"], Value::Null);
        assert_eq!(
            reply["enterprise"],
            json!({ "id": "E1", "name": "Fake Org" })
        );
        assert_eq!(reply["is_enterprise_install"], true);
        assert_eq!(team_of(&slack, "xoxb-e").await, "E1");
    }

    #[tokio::test]
    async fn client_errors_leave_the_code_and_form_credentials_work() {
        let unset = FakeSlack::start(FakeSlackConfig::default()).unwrap();
        unset.add_install("c", InstallGrant::team("T1", "xoxb-1"));
        assert_eq!(exchange(&unset, "c").await["error"], "invalid_client_id");

        let slack = slack();
        slack.add_install("c", InstallGrant::team("T1", "xoxb-1"));
        let code = [("code", "c")];
        let cases = [
            (Some((ID, "wrong")), "bad_client_secret"),
            (Some(("9999.1", SECRET)), "invalid_client_id"),
            (None, "invalid_client_id"),
        ];
        for (basic, error) in cases {
            let reply = access(&slack, basic, &code).await;
            assert_eq!(
                (&reply["ok"], &reply["error"]),
                (&false.into(), &error.into())
            );
        }
        let form_bad = [("client_id", ID), ("client_secret", "nope"), ("code", "c")];
        assert_eq!(
            access(&slack, None, &form_bad).await["error"],
            "bad_client_secret"
        );
        assert_eq!(team_of(&slack, "xoxb-1").await, Value::Null); // nothing issued yet
        let form = [
            ("client_id", ID),
            ("client_secret", SECRET),
            ("grant_type", "authorization_code"),
            ("code", "c"),
        ];
        assert_eq!(access(&slack, None, &form).await["access_token"], "xoxb-1");
        let calls = slack.oauth_calls();
        let last = calls.last().unwrap();
        assert!(!last.basic_auth && last.error.is_none());
        assert_eq!(last.grant_type.as_deref(), Some("authorization_code"));
        assert!(!format!("{calls:?}").contains(SECRET));
        let grant_type = [("grant_type", "password")];
        let reply = access(&slack, Some((ID, SECRET)), &grant_type).await;
        assert_eq!(reply["error"], "invalid_grant_type");
    }

    #[tokio::test]
    async fn redirect_uri_must_match_the_authorized_one() {
        let slack = slack();
        slack.set_redirect_uri(REDIRECT);
        slack.add_install("c", InstallGrant::team("T1", "xoxb-1"));
        let wrong = [("code", "c"), ("redirect_uri", "https://evil.example/cb")];
        let reply = access(&slack, Some((ID, SECRET)), &wrong).await;
        assert_eq!(reply["error"], "bad_redirect_uri");
        let missing = access(&slack, Some((ID, SECRET)), &[("code", "c")]).await;
        assert_eq!(missing["error"], "bad_redirect_uri");
        assert_eq!(exchange(&slack, "c").await["ok"], true);
    }

    #[tokio::test]
    async fn rotation_issues_single_use_refresh_tokens() {
        let slack = slack();
        slack.set_token_lifetime(600);
        let grant = InstallGrant {
            rotation: true,
            ..InstallGrant::team("T1", "xoxe.xoxb-1-first")
        };
        slack.add_install("c", grant);
        let first = exchange(&slack, "c").await;
        assert_eq!(first["expires_in"], 600);
        let first_refresh = first["refresh_token"].as_str().unwrap().to_owned();
        assert!(first_refresh.starts_with("xoxe-1-"), "{first_refresh}");

        let second = refresh(&slack, &first_refresh).await;
        assert_eq!(
            (&second["ok"], &second["token_type"]),
            (&true.into(), &"bot".into())
        );
        assert_eq!(second["team"], json!({ "id": "T1", "name": "Fake" }));
        assert_eq!(
            (&second["bot_user_id"], &second["expires_in"]),
            (&"UFAKEBOT".into(), &600.into())
        );
        let access_token = second["access_token"].as_str().unwrap();
        assert!(access_token.starts_with("xoxe.xoxb-") && access_token != "xoxe.xoxb-1-first");
        let second_refresh = second["refresh_token"].as_str().unwrap();
        assert!(second_refresh.starts_with("xoxe-1-") && second_refresh != first_refresh);
        assert_eq!(team_of(&slack, access_token).await, "T1");
        assert_eq!(team_of(&slack, "xoxe.xoxb-1-first").await, "T1"); // the old one stays valid

        for used in [first_refresh.as_str(), "xoxe-1-unknown"] {
            assert_eq!(
                refresh(&slack, used).await["error"],
                "invalid_refresh_token"
            );
        }
        slack.set_token_lifetime(60);
        let third = refresh(&slack, second_refresh).await;
        assert_eq!(
            (&third["ok"], &third["expires_in"]),
            (&true.into(), &60.into())
        );
        assert_ne!(third["access_token"], second["access_token"]);
        let grant_types: Vec<_> = slack
            .oauth_calls()
            .into_iter()
            .map(|c| c.grant_type)
            .collect();
        assert_eq!(grant_types[0], None);
        assert!(
            grant_types[1..]
                .iter()
                .all(|g| g.as_deref() == Some("refresh_token"))
        );
    }
}
