//! Fake SonarQube Web API (`api/users/current`, `api/components/show`,
//! `api/qualitygates/project_status`) over real HTTP: tests and the demo.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use super::server::FakeServer;

/// One request the fake answered. The token is never kept, only whom it belonged to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SonarRequest {
    pub method: String,
    /// E.g. `/api/components/show`.
    pub path: String,
    /// The raw query string as sent (still percent-encoded).
    pub query: String,
    /// Whether an `Authorization` header was sent at all.
    pub auth_sent: bool,
    /// The login of a valid, unexpired token.
    pub login: Option<String>,
    pub status: u16,
}

struct User {
    login: String,
    name: String,
    expired: bool,
}

struct Project {
    name: String,
    gate: String,
}

#[derive(Default)]
struct State {
    /// token → user.
    users: HashMap<String, User>,
    projects: HashMap<String, Project>,
    /// (login, project key).
    browse: HashSet<(String, String)>,
    delay: Duration,
    down: bool,
    /// Like SonarQube before 10.0: `Bearer` is not understood, so such callers are anonymous.
    basic_only: bool,
    requests: Vec<SonarRequest>,
}

fn relock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

struct Inner {
    state: Arc<Mutex<State>>,
    server: FakeServer,
}

/// Handle on a running fake. Clones share the server; it stops on `stop()` or when the last drops.
#[derive(Clone)]
pub struct FakeSonar {
    inner: Arc<Inner>,
}

impl FakeSonar {
    /// Serves 127.0.0.1:0 from its own thread and actix `System`; returns once listening.
    pub fn start() -> std::io::Result<Self> {
        let state = Arc::new(Mutex::new(State::default()));
        let data = web::Data::from(Arc::clone(&state));
        let server = FakeServer::start("fake-sonar", move |cfg| {
            cfg.app_data(data.clone()).default_service(web::to(answer));
        })?;
        Ok(Self {
            inner: Arc::new(Inner { state, server }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        relock(&self.inner.state)
    }

    /// `http://127.0.0.1:{port}`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.inner.server.addr())
    }

    /// Accepts `token` as a user token of `login` (un-expiring it).
    pub fn add_user(&self, token: &str, login: &str, name: &str) {
        let user = User {
            login: login.to_owned(),
            name: name.to_owned(),
            expired: false,
        };
        self.lock().users.insert(token.to_owned(), user);
    }

    /// Afterwards `token` gets HTTP 401 everywhere.
    pub fn expire_token(&self, token: &str) {
        if let Some(user) = self.lock().users.get_mut(token) {
            user.expired = true;
        }
    }

    /// A private project; `gate` is what `project_status` reports (`OK`, `ERROR`, `WARN`, `NONE`,
    /// or anything else to test odd servers).
    pub fn add_project(&self, key: &str, name: &str, gate: &str) {
        let project = Project {
            name: name.to_owned(),
            gate: gate.to_owned(),
        };
        self.lock().projects.insert(key.to_owned(), project);
    }

    /// Changes a known project's gate; unknown keys are ignored.
    pub fn set_gate(&self, key: &str, gate: &str) {
        if let Some(project) = self.lock().projects.get_mut(key) {
            project.gate = gate.to_owned();
        }
    }

    pub fn grant_browse(&self, login: &str, key: &str) {
        let pair = (login.to_owned(), key.to_owned());
        self.lock().browse.insert(pair);
    }

    /// Every answer waits this long first.
    pub fn set_delay(&self, delay: Duration) {
        self.lock().delay = delay;
    }

    /// Acts as SonarQube before 10.0: only Basic `<token>:` authenticates; Bearer is ignored.
    pub fn set_basic_only(&self, basic_only: bool) {
        self.lock().basic_only = basic_only;
    }

    /// While down, everything gets HTTP 503 with an HTML page, like a server in maintenance.
    pub fn set_down(&self, down: bool) {
        self.lock().down = down;
    }

    /// Every request answered so far, in answer order.
    pub fn requests(&self) -> Vec<SonarRequest> {
        self.lock().requests.clone()
    }

    /// Stops listening; later calls get connection errors. Idempotent.
    pub fn stop(&self) {
        self.inner.server.stop();
    }
}

/// Who the caller is, by `Authorization`.
enum Caller {
    Anonymous,
    User(String),
    Rejected,
}

/// A JSON or HTML answer.
struct Answer {
    status: StatusCode,
    body: serde_json::Value,
}

impl Answer {
    fn ok(body: serde_json::Value) -> Self {
        Self {
            status: StatusCode::OK,
            body,
        }
    }

    fn error(status: StatusCode, msg: &str) -> Self {
        let body = json!({ "errors": [{ "msg": msg }] });
        Self { status, body }
    }
}

async fn answer(req: HttpRequest, state: web::Data<Mutex<State>>) -> HttpResponse {
    let delay = relock(&state).delay;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let mut state = relock(&state);
    let caller = caller(&req, &state);
    let response = if state.down {
        let page = "<html><head><title>SonarQube</title></head><body><h1>503 Service Unavailable</h1>\
                    <p>SonarQube is under maintenance. Please check back later.</p></body></html>";
        HttpResponse::ServiceUnavailable()
            .content_type("text/html; charset=utf-8")
            .body(page)
    } else {
        let answer = route(&req, &state, &caller);
        HttpResponse::build(answer.status).json(answer.body)
    };
    let login = match caller {
        Caller::User(login) => Some(login),
        Caller::Anonymous | Caller::Rejected => None,
    };
    state.requests.push(SonarRequest {
        method: req.method().to_string(),
        path: req.path().to_owned(),
        query: req.query_string().to_owned(),
        auth_sent: req.headers().contains_key(AUTHORIZATION),
        login,
        status: response.status().as_u16(),
    });
    response
}

fn route(req: &HttpRequest, state: &State, caller: &Caller) -> Answer {
    let path = req.path().trim_end_matches('/');
    let known = [
        "/api/users/current",
        "/api/components/show",
        "/api/qualitygates/project_status",
    ];
    if !known.contains(&path) {
        return Answer::error(StatusCode::NOT_FOUND, &format!("Unknown url : {path}"));
    }
    if req.method() != actix_web::http::Method::GET {
        let msg = format!("HTTP method {} is not supported", req.method());
        return Answer::error(StatusCode::METHOD_NOT_ALLOWED, &msg);
    }
    if path == "/api/users/current" {
        return current_user(state, caller);
    }
    let login = match caller {
        Caller::User(login) => login,
        Caller::Anonymous | Caller::Rejected => {
            return Answer::error(StatusCode::UNAUTHORIZED, "Authentication is required");
        }
    };
    let param = if path == "/api/components/show" {
        "component"
    } else {
        "projectKey"
    };
    let query = web::Query::<Vec<(String, String)>>::from_query(req.query_string());
    let params = query.map(web::Query::into_inner).unwrap_or_default();
    let Some((_, key)) = params.iter().find(|(name, _)| name == param) else {
        let msg = format!("The '{param}' parameter is missing");
        return Answer::error(StatusCode::BAD_REQUEST, &msg);
    };
    let Some(project) = state.projects.get(key) else {
        let msg = format!("Component key '{key}' not found");
        return Answer::error(StatusCode::NOT_FOUND, &msg);
    };
    if !state.browse.contains(&(login.clone(), key.clone())) {
        return Answer::error(StatusCode::FORBIDDEN, "Insufficient privileges");
    }
    if param == "component" {
        Answer::ok(json!({ "component": {
            "key": key, "name": project.name, "qualifier": "TRK", "visibility": "private",
        }}))
    } else {
        Answer::ok(json!({ "projectStatus": {
            "status": project.gate, "conditions": [], "ignoredConditions": false,
        }}))
    }
}

/// Anonymous callers are told so (200); bad tokens get 401, as on a real server.
fn current_user(state: &State, caller: &Caller) -> Answer {
    match caller {
        Caller::Anonymous => Answer::ok(json!({ "isLoggedIn": false })),
        Caller::Rejected => Answer {
            status: StatusCode::UNAUTHORIZED,
            body: json!({}),
        },
        Caller::User(login) => {
            let name = state.users.values().find(|u| &u.login == login);
            let name = name.map(|u| u.name.clone());
            Answer::ok(json!({ "isLoggedIn": true, "login": login, "name": name }))
        }
    }
}

/// `Bearer <token>`, or Basic `<token>:` (empty password). Anything else sent is rejected.
fn caller(req: &HttpRequest, state: &State) -> Caller {
    let Some(value) = req.headers().get(AUTHORIZATION) else {
        return Caller::Anonymous;
    };
    let Some((scheme, credentials)) = value.to_str().ok().and_then(|v| v.trim().split_once(' '))
    else {
        return Caller::Rejected;
    };
    let credentials = credentials.trim();
    let token = if scheme.eq_ignore_ascii_case("bearer") {
        if state.basic_only {
            return Caller::Anonymous;
        }
        Some(credentials.to_owned())
    } else if scheme.eq_ignore_ascii_case("basic") {
        let decoded = STANDARD.decode(credentials).ok();
        let decoded = decoded.and_then(|bytes| String::from_utf8(bytes).ok());
        decoded.and_then(|pair| pair.strip_suffix(':').map(str::to_owned))
    } else {
        None
    };
    match token.and_then(|t| state.users.get(&t)) {
        Some(user) if !user.expired => Caller::User(user.login.clone()),
        _ => Caller::Rejected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake() -> FakeSonar {
        let sonar = FakeSonar::start().unwrap();
        sonar.add_user("squ_ada", "ada", "Ada Lovelace");
        sonar.add_project("org:svc", "Service", "OK");
        sonar.grant_browse("ada", "org:svc");
        sonar
    }

    async fn get(sonar: &FakeSonar, path_and_query: &str, auth: Option<&str>) -> (u16, String) {
        let request = reqwest::Client::new().get(format!("{}{path_and_query}", sonar.url()));
        let request = match auth {
            Some(value) => request.header("authorization", value),
            None => request,
        };
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    #[tokio::test]
    async fn basic_auth_with_empty_password_works_like_bearer() {
        let sonar = fake();
        let basic = format!("Basic {}", STANDARD.encode("squ_ada:"));
        let (status, body) = get(&sonar, "/api/users/current", Some(&basic)).await;
        assert_eq!(status, 200);
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["login"], "ada");
        let with_password = format!("Basic {}", STANDARD.encode("squ_ada:pw"));
        let (status, _) = get(&sonar, "/api/users/current", Some(&with_password)).await;
        assert_eq!(status, 401);
        let (status, _) = get(&sonar, "/api/users/current", Some("Token squ_ada")).await;
        assert_eq!(status, 401);
    }

    #[tokio::test]
    async fn bad_requests_unknown_paths_and_methods() {
        let sonar = fake();
        let bearer = Some("Bearer squ_ada");
        let (status, body) = get(&sonar, "/api/components/show", bearer).await;
        assert_eq!(status, 400);
        assert!(
            body.contains("The 'component' parameter is missing"),
            "{body}"
        );
        let (status, body) = get(&sonar, "/api/qualitygates/project_status?x=1", bearer).await;
        assert_eq!(status, 400);
        assert!(body.contains("'projectKey'"), "{body}");
        let (status, _) = get(&sonar, "/api/nope", bearer).await;
        assert_eq!(status, 404);
        let (status, _) = get(&sonar, "/api/components/show?component=org%3Asvc", None).await;
        assert_eq!(status, 401);
        let url = format!("{}/api/users/current", sonar.url());
        let post = reqwest::Client::new().post(url).send().await.unwrap();
        assert_eq!(post.status().as_u16(), 405);
    }

    #[tokio::test]
    async fn requests_keep_logins_not_tokens_and_gates_change() {
        let sonar = fake();
        let path = "/api/qualitygates/project_status?projectKey=org%3Asvc";
        let (_, body) = get(&sonar, path, Some("Bearer squ_ada")).await;
        assert!(body.contains("\"OK\""), "{body}");
        sonar.set_gate("org:svc", "ERROR");
        let (_, body) = get(&sonar, path, Some("Bearer squ_ada")).await;
        assert!(body.contains("\"ERROR\""), "{body}");
        get(&sonar, "/api/users/current", Some("Bearer squ_wrong")).await;
        let requests = sonar.requests();
        assert_eq!(requests.len(), 3);
        assert_eq!(requests[0].query, "projectKey=org%3Asvc");
        assert_eq!(requests[0].login.as_deref(), Some("ada"));
        assert!(requests[2].auth_sent && requests[2].login.is_none());
        assert_eq!(requests[2].status, 401);
        assert!(!format!("{requests:?}").contains("squ_"));
    }

    #[tokio::test]
    async fn down_answers_html_503_after_the_delay() {
        let sonar = fake();
        sonar.set_down(true);
        sonar.set_delay(Duration::from_millis(100));
        let started = std::time::Instant::now();
        let (status, body) = get(&sonar, "/api/users/current", None).await;
        assert!(started.elapsed() >= Duration::from_millis(100));
        assert_eq!(status, 503);
        assert!(body.starts_with("<html>"), "{body}");
        sonar.set_down(false);
        sonar.set_delay(Duration::ZERO);
        assert_eq!(get(&sonar, "/api/users/current", None).await.0, 200);
        sonar.stop();
        sonar.stop();
    }
}
