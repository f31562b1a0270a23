//! Fake Slack Web API (`chat.postMessage`, `auth.test`) over real HTTP: tests, demo and benches.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, mpsc};
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use actix_web::http::StatusCode;
use actix_web::http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderName, RETRY_AFTER};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, mime, web};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tokio::sync::watch;

/// Larger request bodies get HTTP 413 `request_too_large`.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// Per-channel pacing, after Slack's "about 1 message per second per channel".
#[derive(Debug, Clone)]
pub struct FakeSlackConfig {
    pub per_channel_interval: Duration,
    /// A post is accepted once `per_channel_interval - tolerance` passed since the channel's last.
    pub tolerance: Duration,
    /// `Retry-After` of pacing 429s.
    pub retry_after_secs: u64,
}

impl Default for FakeSlackConfig {
    fn default() -> Self {
        let per_channel_interval = Duration::from_secs(1);
        let tolerance = Duration::from_millis(150);
        Self {
            per_channel_interval,
            tolerance,
            retry_after_secs: 1,
        }
    }
}

/// A reply queued for the next valid post to a channel, served before pacing and acceptance.
#[derive(Debug, Clone)]
pub enum Scripted {
    /// HTTP 200 `{"ok":false,"error":"<code>"}`.
    Error(String),
    /// This status with an HTML page, like a Slack outage (invalid codes become 500).
    Status(u16),
    /// HTTP 429 `ratelimited`; `Retry-After` is sent verbatim when `Some`, garbage included.
    RateLimited { retry_after: Option<String> },
    /// Waits, then answers normally: the post is accepted even if the client gave up.
    Slow { delay: Duration },
}

/// A post the fake accepted (`ok:true`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReceivedMessage {
    pub team_id: String,
    pub channel: String,
    pub text: String,
    /// `Null` if absent; a JSON-encoded string (form posts) is decoded.
    pub blocks: Value,
    pub ts: String,
    pub received_at: DateTime<Utc>,
    /// The whole request: the JSON body, or the form fields as an object of strings.
    pub body: Value,
    /// Warnings of the reply, e.g. `missing_charset`.
    pub warnings: Vec<String>,
}

/// One `chat.postMessage` request and what was answered.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Attempt {
    pub channel: Option<String>,
    /// The token's workspace, when it authenticated.
    pub team_id: Option<String>,
    pub status: u16,
    pub error: Option<String>,
    /// The message `ts`, when accepted.
    pub ts: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Default)]
struct State {
    /// token → `Some(team_id)`, or `None` once revoked.
    tokens: HashMap<String, Option<String>>,
    scripts: HashMap<String, VecDeque<Scripted>>,
    last_accepted: HashMap<(String, String), Instant>,
    messages: Vec<ReceivedMessage>,
    attempts: Vec<Attempt>,
    last_ts_micros: i64,
}

struct Shared {
    config: FakeSlackConfig,
    state: Mutex<State>,
    changed: Condvar,
    accepted: watch::Sender<usize>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        relock(&self.state)
    }

    /// Paces per (team, channel), then records the message and its attempt and wakes waiters.
    fn accept(&self, mut msg: ReceivedMessage) -> Result<Value, Failure> {
        let config = &self.config;
        let mut state = self.lock();
        let key = (msg.team_id.clone(), msg.channel.clone());
        let min_gap = config.per_channel_interval.saturating_sub(config.tolerance);
        if let Some(last) = state.last_accepted.get(&key)
            && last.elapsed() < min_gap
        {
            let retry_after = Some(config.retry_after_secs.to_string());
            return Err(Failure::RateLimited(retry_after));
        }
        state.last_accepted.insert(key, Instant::now());
        msg.received_at = Utc::now();
        let micros = msg.received_at.timestamp_micros();
        let micros = micros.max(state.last_ts_micros + 1);
        state.last_ts_micros = micros;
        msg.ts = format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000);
        let warnings = (!msg.warnings.is_empty()).then_some(&msg.warnings);
        let mut reply = json!({
            "ok": true, "channel": msg.channel, "ts": msg.ts,
            "message": {
                "type": "message", "subtype": "bot_message", "text": msg.text, "blocks": msg.blocks,
                "user": "UFAKEBOT", "bot_id": "BFAKE", "team": msg.team_id, "ts": msg.ts,
            },
            "warning": warnings.map(|w| w.join(",")),
            "response_metadata": warnings.map(|w| json!({ "warnings": w })),
        });
        if let Value::Object(fields) = &mut reply {
            fields.retain(|_, value| !value.is_null());
        }
        state.attempts.push(Attempt {
            channel: Some(msg.channel.clone()),
            team_id: Some(msg.team_id.clone()),
            status: 200,
            error: None,
            ts: Some(msg.ts.clone()),
            at: msg.received_at,
        });
        state.messages.push(msg);
        self.accepted.send_replace(state.messages.len());
        self.changed.notify_all();
        Ok(reply)
    }
}

fn relock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Every answer but an accepted post.
enum Failure {
    Error(String),
    Status(u16),
    RateLimited(Option<String>),
    TooLarge,
}

impl Failure {
    fn error(code: &str) -> Self {
        Self::Error(code.to_owned())
    }

    fn respond(self) -> (HttpResponse, Option<String>) {
        let slack = |status: StatusCode, code: &str| {
            let response = HttpResponse::build(status).json(json!({ "ok": false, "error": code }));
            (response, Some(code.to_owned()))
        };
        match self {
            Self::Error(code) => slack(StatusCode::OK, &code),
            Self::TooLarge => slack(StatusCode::PAYLOAD_TOO_LARGE, "request_too_large"),
            Self::RateLimited(retry_after) => {
                let (mut response, error) = slack(StatusCode::TOO_MANY_REQUESTS, "ratelimited");
                if let Some(value) = retry_after.and_then(|v| v.try_into().ok()) {
                    response.headers_mut().insert(RETRY_AFTER, value);
                }
                (response, error)
            }
            Self::Status(code) => {
                let status = StatusCode::from_u16(code);
                let status = status.unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let page = format!("<html><body><h1>{status}</h1></body></html>");
                let mut html = HttpResponse::build(status);
                let response = html.content_type("text/html; charset=utf-8").body(page);
                (response, None)
            }
        }
    }
}

struct Running {
    handle: ServerHandle,
    done: mpsc::Receiver<()>,
}

struct Inner {
    shared: Arc<Shared>,
    addr: SocketAddr,
    running: Mutex<Option<Running>>,
}

impl Inner {
    fn stop(&self) {
        let running = relock(&self.running).take();
        if let Some(Running { handle, done }) = running {
            // The stop command is sent eagerly; the future only reports completion.
            drop(handle.stop(false));
            let _ = done.recv_timeout(Duration::from_secs(5));
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Handle on a running fake. Clones share the server; it stops on `stop()` or when the last drops.
#[derive(Clone)]
pub struct FakeSlack {
    inner: Arc<Inner>,
}

impl FakeSlack {
    /// Serves 127.0.0.1:0 from its own thread and actix `System`; returns once listening.
    pub fn start(config: FakeSlackConfig) -> std::io::Result<Self> {
        let (state, changed, accepted) = (Mutex::default(), Condvar::new(), watch::Sender::new(0));
        let shared = Arc::new(Shared {
            config,
            state,
            changed,
            accepted,
        });
        let data = web::Data::from(Arc::clone(&shared));
        let (ready_tx, ready_rx) = mpsc::channel();
        let (done_tx, done) = mpsc::channel();
        let serve = move || {
            let app = move || {
                App::new()
                    .app_data(data.clone())
                    .route("/api/{method}", web::to(api))
            };
            let server = HttpServer::new(app).workers(1).disable_signals();
            actix_web::rt::System::new().block_on(async move {
                let server = match server.bind(("127.0.0.1", 0)) {
                    Ok(server) => server,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let Some(addr) = server.addrs().first().copied() else {
                    let _ = ready_tx.send(Err(std::io::Error::other("bound no address")));
                    return;
                };
                let server = server.run();
                let _ = ready_tx.send(Ok((addr, server.handle())));
                let _ = server.await;
            });
            let _ = done_tx.send(());
        };
        let thread = std::thread::Builder::new().name("fake-slack".into());
        thread.spawn(serve)?;
        let died = |_| std::io::Error::other("fake slack died");
        let (addr, handle) = ready_rx.recv().map_err(died)??;
        let running = Mutex::new(Some(Running { handle, done }));
        Ok(Self {
            inner: Arc::new(Inner {
                shared,
                addr,
                running,
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.inner.shared.lock()
    }

    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// `http://127.0.0.1:{port}/api`; methods are at `{api_url}/chat.postMessage` etc.
    pub fn api_url(&self) -> String {
        format!("http://{}/api", self.inner.addr)
    }

    /// Accepts `token` as a bot token of `team_id` (un-revoking it).
    pub fn add_token(&self, token: &str, team_id: &str) {
        let team_id = Some(team_id.to_owned());
        self.lock().tokens.insert(token.to_owned(), team_id);
    }

    /// Afterwards `token` gets `token_revoked`, known before or not.
    pub fn revoke_token(&self, token: &str) {
        self.lock().tokens.insert(token.to_owned(), None);
    }

    /// Queues replies consumed in order by the next valid, authenticated posts to `channel`.
    pub fn script(&self, channel: &str, replies: impl IntoIterator<Item = Scripted>) {
        let mut state = self.lock();
        let queue = state.scripts.entry(channel.to_owned()).or_default();
        queue.extend(replies);
    }

    /// Forgets messages, attempts, pacing and pending scripts but keeps tokens (for long benches).
    pub fn clear(&self) {
        let mut state = self.lock();
        let (tokens, last_ts_micros) = (std::mem::take(&mut state.tokens), state.last_ts_micros);
        *state = State {
            tokens,
            last_ts_micros,
            ..State::default()
        };
        self.inner.shared.accepted.send_replace(0);
    }

    /// Accepted posts, in arrival order.
    pub fn messages(&self) -> Vec<ReceivedMessage> {
        self.lock().messages.clone()
    }

    pub fn messages_for(&self, channel: &str) -> Vec<ReceivedMessage> {
        let state = self.lock();
        state
            .messages
            .iter()
            .filter(|m| m.channel == channel)
            .cloned()
            .collect()
    }

    /// Every `chat.postMessage` request with what was answered, in answer order.
    pub fn attempts(&self) -> Vec<Attempt> {
        self.lock().attempts.clone()
    }

    /// Waits until at least `n` posts were accepted; needs a tokio runtime with timers.
    pub async fn wait_for_messages(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<ReceivedMessage>, String> {
        let mut accepted = self.inner.shared.accepted.subscribe();
        match tokio::time::timeout(timeout, accepted.wait_for(|&count| count >= n)).await {
            Ok(Ok(_)) => Ok(self.messages()),
            _ => Err(self.shortfall(n, timeout)),
        }
    }

    /// Blocking `wait_for_messages`; never call it on the runtime thread that sends the posts.
    pub fn wait_for_messages_blocking(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<ReceivedMessage>, String> {
        let shared = &self.inner.shared;
        let (state, _) = (shared.changed)
            .wait_timeout_while(shared.lock(), timeout, |state| state.messages.len() < n)
            .unwrap_or_else(PoisonError::into_inner);
        if state.messages.len() >= n {
            return Ok(state.messages.clone());
        }
        drop(state);
        Err(self.shortfall(n, timeout))
    }

    fn shortfall(&self, n: usize, timeout: Duration) -> String {
        let state = self.lock();
        let got: Vec<_> = state
            .messages
            .iter()
            .map(|m| (&m.channel, &m.text))
            .collect();
        let tried: Vec<_> = state
            .attempts
            .iter()
            .map(|a| (&a.channel, a.status, &a.error))
            .collect();
        let count = got.len();
        format!("wanted {n} messages within {timeout:?}, got {count}: {got:?}; attempts: {tried:?}")
    }

    /// Stops the server (idempotent); later requests fail to connect.
    pub fn stop(&self) {
        self.inner.stop();
    }
}

async fn api(
    req: HttpRequest,
    method: web::Path<String>,
    body: web::Payload,
    shared: web::Data<Shared>,
) -> HttpResponse {
    let body = match body.to_bytes_limited(MAX_BODY_BYTES).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(_)) => Err(Failure::error("request_timeout")), // the client broke off the body
        Err(_) => Err(Failure::TooLarge),
    };
    match method.as_str() {
        "chat.postMessage" => post_message(&req, body, &shared).await,
        "auth.test" => match authenticate(&req, &shared) {
            Ok(team_id) => HttpResponse::Ok().json(json!({
                "ok": true, "url": "https://fake.slack.com/", "team": "Fake", "user": "fakebot",
                "team_id": team_id, "user_id": "UFAKEBOT", "bot_id": "BFAKE",
            })),
            Err(failure) => failure.respond().0,
        },
        _ => Failure::error("unknown_method").respond().0,
    }
}

async fn post_message(
    req: &HttpRequest,
    body: Result<web::Bytes, Failure>,
    shared: &Shared,
) -> HttpResponse {
    let parsed = body.and_then(|bytes| parse_body(header(req, CONTENT_TYPE), &bytes));
    let channel = parsed
        .as_ref()
        .ok()
        .and_then(|(body, _)| non_empty_str(body, "channel"));
    let team_id = authenticate(req, shared);
    let known_team = team_id.as_ref().ok().cloned();
    match deliver(team_id, parsed, shared).await {
        Ok(reply) => HttpResponse::Ok().json(reply),
        Err(failure) => {
            let (response, error) = failure.respond();
            let (status, at) = (response.status().as_u16(), Utc::now());
            let attempt = Attempt {
                channel,
                team_id: known_team,
                status,
                error,
                ts: None,
                at,
            };
            shared.lock().attempts.push(attempt);
            response
        }
    }
}

/// Slack's order: auth, the request itself, then scripted replies, then pacing.
async fn deliver(
    team_id: Result<String, Failure>,
    parsed: Result<(Value, Vec<String>), Failure>,
    shared: &Shared,
) -> Result<Value, Failure> {
    let team_id = team_id?;
    let (body, warnings) = parsed?;
    let channel =
        non_empty_str(&body, "channel").ok_or_else(|| Failure::error("channel_not_found"))?;
    let text = non_empty_str(&body, "text").unwrap_or_default();
    let blocks = parse_blocks(body.get("blocks"))?;
    if text.is_empty() && blocks.as_array().is_none_or(Vec::is_empty) {
        return Err(Failure::error("no_text"));
    }
    let next = shared
        .lock()
        .scripts
        .get_mut(&channel)
        .and_then(VecDeque::pop_front);
    match next {
        Some(Scripted::Error(code)) => return Err(Failure::Error(code)),
        Some(Scripted::Status(code)) => return Err(Failure::Status(code)),
        Some(Scripted::RateLimited { retry_after }) => {
            return Err(Failure::RateLimited(retry_after));
        }
        Some(Scripted::Slow { delay }) => tokio::time::sleep(delay).await,
        None => {}
    }
    let (ts, received_at) = (String::new(), Utc::now());
    shared.accept(ReceivedMessage {
        team_id,
        channel,
        text,
        blocks,
        ts,
        received_at,
        body,
        warnings,
    })
}

fn authenticate(req: &HttpRequest, shared: &Shared) -> Result<String, Failure> {
    if !req.headers().contains_key(AUTHORIZATION) {
        return Err(Failure::error("not_authed"));
    }
    let token = match header(req, AUTHORIZATION).and_then(|h| h.trim().split_once(' ')) {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => "",
    };
    match shared.lock().tokens.get(token) {
        Some(Some(team_id)) => Ok(team_id.clone()),
        Some(None) => Err(Failure::error("token_revoked")),
        None => Err(Failure::error("invalid_auth")),
    }
}

/// Decodes a JSON or form body into a JSON object, with Slack's content-type errors and warnings.
fn parse_body(content_type: Option<&str>, bytes: &[u8]) -> Result<(Value, Vec<String>), Failure> {
    let content_type = content_type.ok_or_else(|| Failure::error("invalid_post_type"))?;
    let mime: mime::Mime = content_type.parse().map_err(fail("invalid_form_data"))?;
    let charset = mime
        .get_param(mime::CHARSET)
        .map(|c| c.as_str().to_lowercase());
    if charset
        .as_deref()
        .is_some_and(|c| c != "utf-8" && c != "utf8")
    {
        return Err(Failure::error("invalid_charset"));
    }
    match (mime.type_(), mime.subtype()) {
        (mime::APPLICATION, mime::JSON) => match serde_json::from_slice::<Value>(bytes) {
            Ok(body) if body.is_object() => {
                let warning = charset.is_none().then(|| "missing_charset".to_owned());
                Ok((body, warning.into_iter().collect()))
            }
            _ => Err(Failure::error("invalid_json")),
        },
        (mime::APPLICATION, mime::WWW_FORM_URLENCODED) => {
            let text = std::str::from_utf8(bytes).map_err(fail("invalid_charset"))?;
            let fields = web::Query::<Vec<(String, String)>>::from_query(text);
            let fields = fields.map_err(fail("invalid_form_data"))?.into_inner();
            let body = fields.into_iter().map(|(k, v)| (k, v.into())).collect();
            Ok((Value::Object(body), Vec::new()))
        }
        _ => Err(Failure::error("invalid_form_data")),
    }
}

/// `blocks` is an array or a JSON-encoded one (form posts); else `invalid_blocks_format`.
fn parse_blocks(blocks: Option<&Value>) -> Result<Value, Failure> {
    let decoded = match blocks {
        None | Some(Value::Null) => return Ok(Value::Null),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(Value::Null),
        Some(Value::String(s)) => serde_json::from_str(s).unwrap_or(Value::Null),
        Some(other) => other.clone(),
    };
    match decoded {
        Value::Array(_) => Ok(decoded),
        _ => Err(Failure::error("invalid_blocks_format")),
    }
}

fn fail<E>(code: &'static str) -> impl FnOnce(E) -> Failure {
    move |_| Failure::error(code)
}

fn header(req: &HttpRequest, name: HeaderName) -> Option<&str> {
    req.headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
}

fn non_empty_str(body: &Value, key: &str) -> Option<String> {
    let value = body.get(key).and_then(Value::as_str)?;
    (!value.trim().is_empty()).then(|| value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "xoxb-good";
    const JSON: &str = "application/json; charset=utf-8";

    struct Reply {
        status: u16,
        retry_after: Option<String>,
        raw: String,
        json: Value,
    }

    fn fake(config: FakeSlackConfig) -> FakeSlack {
        let slack = FakeSlack::start(config).unwrap();
        slack.add_token(TOKEN, "T1");
        slack
    }

    async fn call(
        slack: &FakeSlack,
        method: &str,
        token: Option<&str>,
        content_type: &str,
        body: &[u8],
    ) -> Reply {
        let url = format!("{}/{method}", slack.api_url());
        let request = reqwest::Client::new()
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, content_type);
        let request = match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        let response = request.body(body.to_vec()).send().await.unwrap();
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        let raw = response.text().await.unwrap();
        let json = serde_json::from_str(&raw).unwrap_or(Value::Null);
        Reply {
            status,
            retry_after,
            raw,
            json,
        }
    }

    async fn post(slack: &FakeSlack, channel: &str, text: &str) -> Reply {
        let body = serde_json::to_vec(&json!({ "channel": channel, "text": text })).unwrap();
        call(slack, "chat.postMessage", Some(TOKEN), JSON, &body).await
    }

    #[tokio::test]
    async fn auth_errors_auth_test_and_unknown_methods() {
        let slack = fake(FakeSlackConfig::default());
        slack.add_token("xoxb-old", "T2");
        slack.revoke_token("xoxb-old");
        let body = serde_json::to_vec(&json!({ "channel": "C1", "text": "hi" })).unwrap();
        let bad = [
            (None, "not_authed"),
            (Some("xoxb-nope"), "invalid_auth"),
            (Some("xoxb-old"), "token_revoked"),
        ];
        for (token, error) in bad {
            let reply = call(&slack, "chat.postMessage", token, JSON, &body).await;
            assert_eq!(
                (reply.status, reply.json["error"].as_str()),
                (200, Some(error))
            );
            assert_eq!(
                call(&slack, "auth.test", token, JSON, b"").await.json["error"],
                error
            );
        }
        let reply = call(&slack, "auth.test", Some(TOKEN), JSON, b"").await.json;
        assert_eq!(
            (reply["ok"].as_bool(), reply["team_id"].as_str()),
            (Some(true), Some("T1"))
        );
        let reply = call(&slack, "chat.nope", Some(TOKEN), JSON, &body).await;
        assert_eq!(reply.json["error"], "unknown_method");
        assert!(slack.messages().is_empty());
        let attempts = slack.attempts();
        assert_eq!(attempts.len(), 3);
        assert!(
            attempts
                .iter()
                .all(|a| a.channel.as_deref() == Some("C1") && a.status == 200)
        );
    }

    #[tokio::test]
    async fn scripted_replies_are_consumed_in_order_then_normal() {
        let slack = fake(FakeSlackConfig::default());
        let garbage = Some("soon".to_owned());
        slack.script(
            "C1",
            [
                Scripted::Error("internal_error".into()),
                Scripted::RateLimited {
                    retry_after: garbage,
                },
                Scripted::RateLimited { retry_after: None },
                Scripted::Status(503),
            ],
        );
        assert_eq!(post(&slack, "C2", "other channel").await.json["ok"], true);
        let reply = post(&slack, "C1", "m").await;
        assert_eq!(
            (reply.status, reply.json["error"].as_str()),
            (200, Some("internal_error"))
        );
        let reply = post(&slack, "C1", "m").await;
        assert_eq!(
            (reply.status, reply.retry_after.as_deref()),
            (429, Some("soon"))
        );
        assert_eq!(reply.json["error"], "ratelimited");
        let reply = post(&slack, "C1", "m").await;
        assert_eq!((reply.status, reply.retry_after), (429, None));
        let reply = post(&slack, "C1", "m").await;
        assert_eq!(reply.status, 503);
        assert!(reply.raw.starts_with("<html>"));
        let reply = post(&slack, "C1", "m").await;
        assert_eq!((reply.status, &reply.json["channel"]), (200, &json!("C1")));
        let statuses: Vec<u16> = slack.attempts().iter().map(|a| a.status).collect();
        assert_eq!(statuses, [200, 200, 429, 429, 503, 200]);
        let messages = slack.messages();
        assert!(messages.len() == 2 && messages[0].ts < messages[1].ts);
        assert_eq!(messages[1].ts, reply.json["ts"].as_str().unwrap());
    }

    #[tokio::test]
    async fn second_post_within_interval_is_rate_limited() {
        let per_channel_interval = Duration::from_millis(500);
        let tolerance = Duration::from_millis(100);
        let slack = fake(FakeSlackConfig {
            per_channel_interval,
            tolerance,
            retry_after_secs: 1,
        });
        assert_eq!(post(&slack, "C1", "first").await.status, 200);
        let reply = post(&slack, "C1", "too soon").await;
        assert_eq!(
            (reply.status, reply.retry_after.as_deref()),
            (429, Some("1"))
        );
        assert_eq!(reply.json["error"], "ratelimited");
        assert_eq!(post(&slack, "C2", "other channel").await.status, 200);
        tokio::time::sleep(Duration::from_millis(420)).await;
        assert_eq!(post(&slack, "C1", "later").await.status, 200);
        let texts: Vec<String> = slack
            .messages_for("C1")
            .into_iter()
            .map(|m| m.text)
            .collect();
        assert_eq!(texts, ["first", "later"]);
        assert_eq!(slack.attempts()[1].error.as_deref(), Some("ratelimited"));
    }

    #[tokio::test]
    async fn json_without_charset_is_accepted_with_warning() {
        let slack = fake(FakeSlackConfig::default());
        let body = br#"{"channel":"C1","text":"hi"}"#;
        let reply = call(
            &slack,
            "chat.postMessage",
            Some(TOKEN),
            "application/json",
            body,
        )
        .await
        .json;
        assert_eq!(
            (reply["ok"].as_bool(), reply["warning"].as_str()),
            (Some(true), Some("missing_charset"))
        );
        assert_eq!(
            reply["response_metadata"]["warnings"],
            json!(["missing_charset"])
        );
        assert_eq!(slack.messages()[0].warnings, ["missing_charset"]);
        assert_eq!(post(&slack, "C2", "x").await.json.get("warning"), None);
    }

    #[tokio::test]
    async fn bad_requests_get_slack_errors_and_forms_are_accepted() {
        let slack = fake(FakeSlackConfig::default());
        let cases: [(&str, &[u8], &str); 7] = [
            (JSON, b"{not json", "invalid_json"),
            (JSON, b"[1]", "invalid_json"),
            (JSON, br#"{"text":"hi"}"#, "channel_not_found"),
            (JSON, br#"{"channel":"C1","text":" "}"#, "no_text"),
            (
                JSON,
                br#"{"channel":"C1","text":"hi","blocks":"nope"}"#,
                "invalid_blocks_format",
            ),
            (
                "application/json; charset=latin1",
                br#"{"channel":"C1","text":"hi"}"#,
                "invalid_charset",
            ),
            ("text/csv", b"a,b", "invalid_form_data"),
        ];
        for (content_type, body, error) in cases {
            let reply = call(&slack, "chat.postMessage", Some(TOKEN), content_type, body).await;
            assert_eq!(
                (reply.status, reply.json["error"].as_str()),
                (200, Some(error)),
                "{body:?}"
            );
        }
        let huge = vec![b'x'; MAX_BODY_BYTES + 1];
        assert_eq!(
            call(&slack, "chat.postMessage", Some(TOKEN), JSON, &huge)
                .await
                .status,
            413
        );
        let form = b"channel=C9&text=caf%C3%A9+ok&blocks=%5B%7B%22type%22%3A%22divider%22%7D%5D";
        let form_type = "application/x-www-form-urlencoded";
        assert_eq!(
            call(&slack, "chat.postMessage", Some(TOKEN), form_type, form)
                .await
                .json["ok"],
            true
        );
        let message = &slack.messages()[0];
        assert_eq!(
            (message.text.as_str(), &message.blocks),
            ("café ok", &json!([{ "type": "divider" }]))
        );
        assert_eq!(slack.attempts().len(), 9);
    }

    #[tokio::test]
    async fn wait_for_messages_wakes_on_arrival_and_reports_timeouts() {
        let slack = fake(FakeSlackConfig::default());
        let sender = slack.clone();
        let task = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            post(&sender, "C1", "one").await.status
        });
        let got = slack
            .wait_for_messages(1, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!((got.len(), task.await.unwrap()), (1, 200));
        let error = slack
            .wait_for_messages(2, Duration::from_millis(50))
            .await
            .unwrap_err();
        assert!(
            error.contains("got 1") && error.contains("\"one\""),
            "{error}"
        );
        let waiter = slack.clone();
        let blocking = std::thread::spawn(move || {
            waiter.wait_for_messages_blocking(2, Duration::from_secs(5))
        });
        assert_eq!(post(&slack, "C2", "two").await.status, 200);
        assert_eq!(blocking.join().unwrap().unwrap().len(), 2);
        assert!(
            slack
                .wait_for_messages_blocking(3, Duration::from_millis(20))
                .is_err()
        );
    }

    #[tokio::test]
    async fn slow_reply_times_the_client_out_but_still_posts_and_stop_closes() {
        let slack = fake(FakeSlackConfig::default());
        slack.script(
            "C1",
            [Scripted::Slow {
                delay: Duration::from_millis(300),
            }],
        );
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(50))
            .build()
            .unwrap();
        let url = format!("{}/chat.postMessage", slack.api_url());
        let body = serde_json::to_vec(&json!({ "channel": "C1", "text": "slow" })).unwrap();
        let request = client
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, JSON)
            .bearer_auth(TOKEN);
        assert!(request.body(body).send().await.unwrap_err().is_timeout());
        assert_eq!(
            slack
                .wait_for_messages(1, Duration::from_secs(5))
                .await
                .unwrap()[0]
                .text,
            "slow"
        );
        slack.stop();
        slack.stop();
        assert!(client.post(&url).send().await.is_err());
    }
}
