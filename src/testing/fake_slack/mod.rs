//! Fake Slack Web API (`chat.postMessage`, `auth.test`, `conversations.info`, `oauth.v2.access`)
//! and a `response_url` sink, over real HTTP: tests, demo and benches.
//!
//! This file holds the `FakeSlack` handle, its shared state and the server's start, routing and
//! stop; each Slack method lives in its own module.

mod auth;
mod conversations;
mod failure;
mod oauth;
mod post;
mod request;
mod response_url;
#[cfg(test)]
mod test_support;
mod wait;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;
use tokio::sync::watch;

use super::server::FakeServer;
pub use conversations::ChannelInfo;
use failure::Failure;
pub use oauth::{DEFAULT_TOKEN_LIFETIME_SECS, InstallGrant, OauthCall};
pub use post::{Attempt, ReceivedMessage, Scripted};
pub use response_url::RESPONSE_URL_USES;

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

#[derive(Default)]
struct State {
    /// token → `Some(team_id)`, or `None` once revoked.
    tokens: HashMap<String, Option<String>>,
    scripts: HashMap<String, VecDeque<Scripted>>,
    last_accepted: HashMap<(String, String), Instant>,
    messages: Vec<ReceivedMessage>,
    attempts: Vec<Attempt>,
    /// `chat.postMessage` requests received, answered or not yet.
    arrived: usize,
    last_ts_micros: i64,
    /// Channels set by tests; others are public and the bot is not in them.
    channels: HashMap<String, ChannelInfo>,
    oauth: oauth::OauthState,
    /// response_url id → the JSON bodies accepted there, in order.
    responses: HashMap<String, Vec<Value>>,
    /// Accepted posts are kept without their request body and blocks (long benches).
    without_bodies: bool,
}

struct Shared {
    config: FakeSlackConfig,
    state: Mutex<State>,
    changed: Condvar,
    accepted: watch::Sender<usize>,
    /// Bumped after every body accepted at a response_url.
    responded: watch::Sender<u64>,
    /// `oauth.v2.access` calls wait while this is held (see `hold_oauth`).
    oauth_gate: watch::Sender<oauth::Gate>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        relock(&self.state)
    }
}

fn relock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

struct Inner {
    shared: Arc<Shared>,
    server: FakeServer,
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
            responded: watch::Sender::new(0),
            oauth_gate: watch::Sender::new(oauth::Gate::default()),
        });
        let data = web::Data::from(Arc::clone(&shared));
        let server = FakeServer::start("fake-slack", move |cfg| {
            cfg.app_data(data.clone())
                .route("/api/{method}", web::to(api))
                .route("/response/{id:.+}", web::post().to(response_url::receive));
        })?;
        Ok(Self {
            inner: Arc::new(Inner { shared, server }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.inner.shared.lock()
    }

    pub fn addr(&self) -> SocketAddr {
        self.inner.server.addr()
    }

    /// `http://127.0.0.1:{port}/api`; methods are at `{api_url}/chat.postMessage` etc.
    pub fn api_url(&self) -> String {
        format!("http://{}/api", self.inner.server.addr())
    }

    /// Forgets messages, attempts, pacing, pending scripts, OAuth calls and response_url bodies
    /// but keeps tokens, channels and the OAuth setup (for long benches).
    pub fn clear(&self) {
        let mut state = self.lock();
        let State {
            tokens,
            last_ts_micros,
            channels,
            mut oauth,
            without_bodies,
            ..
        } = std::mem::take(&mut *state);
        oauth.forget_calls();
        *state = State {
            tokens,
            last_ts_micros,
            channels,
            oauth,
            without_bodies,
            ..State::default()
        };
        self.inner.shared.accepted.send_replace(0);
    }

    /// From now on, accepted posts are recorded without their request body and blocks, so that
    /// hundreds of thousands of them fit in memory (load benches).
    pub fn record_without_bodies(&self) {
        self.lock().without_bodies = true;
    }

    /// Stops the server (idempotent); later requests fail to connect.
    pub fn stop(&self) {
        self.inner.server.stop();
    }
}

/// Routes `/api/{method}` to the method's module; unknown methods get `unknown_method`.
async fn api(
    req: HttpRequest,
    method: web::Path<String>,
    body: web::Payload,
    shared: web::Data<Shared>,
) -> HttpResponse {
    let body = request::read_body(body).await;
    match method.as_str() {
        "chat.postMessage" => post::post_message(&req, body, &shared).await,
        "auth.test" => auth::auth_test(&req, &shared),
        "conversations.info" => conversations::info(&req, body, &shared),
        "oauth.v2.access" => {
            oauth::wait_at_gate(&shared).await;
            oauth::access(&req, body, &shared)
        }
        _ => Failure::error("unknown_method").respond().0,
    }
}
