//! [`SonarClient`]: the HTTP calls to SonarQube's Web API (GET, bounded time). The user token goes
//! as `Bearer` (SonarQube 10+ and Cloud); when that is not understood (a 401, or an anonymous
//! `users/current` on older servers) the call is made once more with the token as Basic login.

use std::error::Error as _;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::error::SonarError;
use super::model::{Access, RemoteGate, Reply, SonarUser};
use crate::domain::types::{ProjectKey, ServerUrl};

/// A SonarQube Web API client. Holds no token: each call gets one and never logs it.
#[derive(Debug, Clone)]
pub struct SonarClient {
    http: reqwest::Client,
    timeout: Duration,
}

impl SonarClient {
    /// `timeout` bounds each whole call (connecting, at most 5 s of it, included).
    pub fn new(timeout: Duration) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("sonar-slack/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { http, timeout })
    }

    /// GET `{base}/api/users/current`: who the token is. An anonymous answer is
    /// [`SonarError::TokenRejected`] (`api/authentication/validate` would say "valid" to anyone).
    pub async fn current_user(
        &self,
        base: &ServerUrl,
        token: &SecretString,
    ) -> Result<SonarUser, SonarError> {
        let endpoint = "api/users/current";
        match self
            .fetch(base, token, endpoint, &[], Auth::Bearer, |r| {
                r.current_user()
            })
            .await
        {
            // Servers before 10.0 ignore Bearer and answer as to an anonymous caller.
            Err(SonarError::TokenRejected {
                anonymous: true, ..
            }) if !token.expose_secret().trim().is_empty() => {
                self.fetch(base, token, endpoint, &[], Auth::Basic, |r| {
                    r.current_user()
                })
                .await
            }
            other => other,
        }
    }

    /// GET `{base}/api/components/show?component=<key>`: whether the token's user may Browse it.
    pub async fn component(
        &self,
        base: &ServerUrl,
        token: &SecretString,
        key: &ProjectKey,
    ) -> Result<Access, SonarError> {
        let query = [("component", key.as_str())];
        let endpoint = "api/components/show";
        self.fetch(base, token, endpoint, &query, Auth::Bearer, |r| {
            r.component()
        })
        .await
    }

    /// GET `{base}/api/qualitygates/project_status?projectKey=<key>`: the main branch's gate.
    pub async fn gate_status(
        &self,
        base: &ServerUrl,
        token: &SecretString,
        key: &ProjectKey,
    ) -> Result<RemoteGate, SonarError> {
        let query = [("projectKey", key.as_str())];
        let endpoint = "api/qualitygates/project_status";
        self.fetch(base, token, endpoint, &query, Auth::Bearer, |r| r.gate(key))
            .await
    }

    /// One call and its reading; a 401 to Bearer is tried once more with Basic (SonarQube
    /// before 10.0). Errors never hold the token, even if the server echoed it.
    async fn fetch<T>(
        &self,
        base: &ServerUrl,
        token: &SecretString,
        endpoint: &'static str,
        query: &[(&str, &str)],
        auth: Auth,
        read: impl Fn(&Reply<'_>) -> Result<T, SonarError>,
    ) -> Result<T, SonarError> {
        let blank = token.expose_secret().trim().is_empty();
        let (mut status, mut body) = self.send(base, token, endpoint, query, auth).await?;
        if status == 401 && matches!(auth, Auth::Bearer) && !blank {
            (status, body) = self.send(base, token, endpoint, query, Auth::Basic).await?;
        }
        let reply = Reply {
            server: base.as_str(),
            endpoint,
            status,
            body: &body,
        };
        read(&reply).map_err(|e| e.redacted(token.expose_secret()))
    }

    /// Sends the request and reads the whole answer; only transport failures are errors here.
    async fn send(
        &self,
        base: &ServerUrl,
        token: &SecretString,
        endpoint: &str,
        query: &[(&str, &str)],
        auth: Auth,
    ) -> Result<(u16, String), SonarError> {
        let url = format!("{}/{endpoint}", base.as_str());
        let unreachable = |err: reqwest::Error| {
            SonarError::Unreachable {
                server: base.as_str().to_owned(),
                what: self.describe(endpoint, &err),
            }
            .redacted(token.expose_secret())
        };
        let request = self.http.get(url).query(query);
        // A blank token cannot authenticate; sending none gets SonarQube's anonymous answer.
        let secret = token.expose_secret();
        let request = match auth {
            _ if secret.trim().is_empty() => request,
            Auth::Bearer => request.bearer_auth(secret),
            Auth::Basic => request.basic_auth(secret, Some("")),
        };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status().as_u16();
        let body = response.text().await.map_err(unreachable)?;
        Ok((status, body))
    }

    /// What went wrong with a request that got no usable answer, without the URL.
    fn describe(&self, endpoint: &str, err: &reqwest::Error) -> String {
        let causes = causes(err);
        if err.is_builder() {
            format!("the server URL cannot be used for an HTTP request ({causes})")
        } else if err.is_timeout() {
            format!("{endpoint} got no answer within {:?}", self.timeout)
        } else if err.is_connect() {
            format!("connecting failed ({causes})")
        } else {
            format!("{endpoint} failed ({causes})")
        }
    }
}

/// The error and its sources, each once, e.g. `client error (Connect): tcp connect error: Connection refused`.
fn causes(err: &reqwest::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next: Option<&(dyn std::error::Error + 'static)> = err.source();
    let top = err.to_string();
    let top = top.split(" for url (").next().unwrap_or(&top).to_owned();
    parts.push(top);
    while let Some(cause) = next {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = cause.source();
    }
    parts.join(": ")
}

/// How the user token is sent.
#[derive(Clone, Copy)]
enum Auth {
    Bearer,
    Basic,
}
