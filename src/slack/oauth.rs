//! OAuth v2 with Slack through the `oauth2` crate: the authorize URL, the code exchange and token
//! refresh at `oauth.v2.access` (HTTP Basic client auth), over our own reqwest client.

use std::time::Duration;

use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AccessToken, AuthType, AuthUrl, AuthorizationCode, Client, ClientId, ClientSecret, CsrfToken,
    EndpointNotSet, EndpointSet, RedirectUrl, RefreshToken, RequestTokenError, Scope,
    StandardRevocableToken, TokenResponse, TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::oauth_http::{HttpError, ReqwestForOAuth};

/// `oauth.v2.access`'s answer. Slack answers HTTP 200 with `ok:false` on errors, names the token
/// type `bot`, and adds fields of its own, so the standard response type does not fit.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct SlackTokenResponse {
    #[serde(default)]
    pub ok: bool,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default = "no_token")]
    access_token: AccessToken,
    #[serde(default = "bot_type")]
    token_type: BasicTokenType,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    refresh_token: Option<RefreshToken>,
    /// Comma-separated, unlike OAuth's space-separated `scope`.
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub bot_user_id: Option<String>,
    #[serde(default)]
    pub app_id: Option<String>,
    #[serde(default)]
    pub team: Option<Named>,
    #[serde(default)]
    pub enterprise: Option<Named>,
    #[serde(default)]
    pub is_enterprise_install: bool,
    #[serde(default)]
    pub authed_user: Option<AuthedUser>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Named {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct AuthedUser {
    pub id: String,
}

fn no_token() -> AccessToken {
    AccessToken::new(String::new())
}

fn bot_type() -> BasicTokenType {
    BasicTokenType::Extension("bot".into())
}

impl TokenResponse for SlackTokenResponse {
    type TokenType = BasicTokenType;
    fn access_token(&self) -> &AccessToken {
        &self.access_token
    }
    fn token_type(&self) -> &BasicTokenType {
        &self.token_type
    }
    fn expires_in(&self) -> Option<Duration> {
        self.expires_in.map(Duration::from_secs)
    }
    fn refresh_token(&self) -> Option<&RefreshToken> {
        self.refresh_token.as_ref()
    }
    fn scopes(&self) -> Option<&Vec<Scope>> {
        None
    }
}

type SlackOAuthClient = Client<
    BasicErrorResponse,
    SlackTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// A granted install or refresh: tokens in the clear only here, on their way to being sealed.
#[derive(Debug)]
pub struct Grant {
    pub bot_token: SecretString,
    pub refresh_token: Option<SecretString>,
    pub expires_in: Option<Duration>,
    pub team_id: Option<String>,
    pub team_name: Option<String>,
    pub enterprise_id: Option<String>,
    pub enterprise_name: Option<String>,
    pub is_enterprise_install: bool,
    pub bot_user_id: Option<String>,
    pub app_id: Option<String>,
    pub scopes: Option<String>,
    pub installer: Option<String>,
}

/// Why Slack gave no tokens. Never holds a code, token or secret.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error("Slack refused the request: {0}")]
    Refused(String),
    #[error("Slack could not be reached: {0}")]
    Unreachable(String),
    #[error("Slack's answer was not understood: {0}")]
    Unreadable(String),
}

impl OAuthError {
    /// What to do about it, for the pages and logs.
    pub fn advice(&self) -> &'static str {
        match self {
            Self::Refused(code) if code == "bad_client_secret" || code == "invalid_client_id" => {
                "check SONAR_SLACK_SLACK_CLIENT_ID and SONAR_SLACK_SLACK_CLIENT_SECRET against the app's Basic Information page"
            }
            Self::Refused(code) if code == "bad_redirect_uri" => {
                "the redirect URL must be listed in the app's OAuth settings: check SONAR_SLACK_PUBLIC_URL and the manifest"
            }
            Self::Refused(code) if code == "invalid_code" => {
                "the approval was already used or is older than 10 minutes: start the install again"
            }
            Self::Refused(code) if code == "invalid_refresh_token" => {
                "the refresh token was already used or revoked: reinstall the app"
            }
            Self::Refused(_) => {
                "start the install again; if it keeps failing, check the app's settings"
            }
            Self::Unreachable(_) | Self::Unreadable(_) => "try again in a minute",
        }
    }
}

/// The app's OAuth settings and an HTTP client for `oauth.v2.access`.
#[derive(Clone)]
pub struct SlackOAuth {
    client: SlackOAuthClient,
    http: ReqwestForOAuth,
    scopes: String,
}

impl std::fmt::Debug for SlackOAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackOAuth")
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl SlackOAuth {
    pub fn new(
        client_id: &str,
        client_secret: &SecretString,
        authorize_url: &str,
        api_url: &str,
        redirect_url: &str,
        scopes: &[String],
        timeout: Duration,
    ) -> Result<Self, String> {
        let url = |what: &str, u: String| -> Result<String, String> {
            oauth2::url::Url::parse(&u)
                .map(|_| u)
                .map_err(|e| format!("{what} is not a valid URL: {e}"))
        };
        let token_url = format!("{}/oauth.v2.access", api_url.trim_end_matches('/'));
        let client = Client::new(ClientId::new(client_id.to_owned()))
            .set_client_secret(ClientSecret::new(client_secret.expose_secret().to_owned()))
            .set_auth_uri(AuthUrl::from_url(
                url("slack_authorize_url", authorize_url.to_owned())?
                    .parse()
                    .map_err(|e| format!("{e}"))?,
            ))
            .set_token_uri(TokenUrl::from_url(
                url("slack_api_url", token_url)?
                    .parse()
                    .map_err(|e| format!("{e}"))?,
            ))
            .set_redirect_uri(RedirectUrl::from_url(
                url("the redirect URL", redirect_url.to_owned())?
                    .parse()
                    .map_err(|e| format!("{e}"))?,
            ))
            .set_auth_type(AuthType::BasicAuth);
        let http = reqwest::Client::builder()
            .timeout(timeout)
            // OAuth endpoints must not be followed elsewhere (RFC 6749 §4.1.3 security advice).
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Self {
            client,
            http: ReqwestForOAuth(http),
            scopes: scopes.join(","),
        })
    }

    /// Where to send the installer, carrying `state`.
    pub fn authorize_url(&self, state: &str) -> String {
        let state = state.to_owned();
        let (url, _) = self
            .client
            .authorize_url(move || CsrfToken::new(state))
            // Slack wants bot scopes comma-separated in `scope`, and user scopes in `user_scope`.
            .add_extra_param("scope", self.scopes.clone())
            .add_extra_param("user_scope", "")
            .url();
        url.into()
    }

    /// Exchanges an approval `code` for the bot token.
    pub async fn exchange(&self, code: &str) -> Result<Grant, OAuthError> {
        let reply = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .request_async(&self.http)
            .await;
        grant(reply)
    }

    /// Trades a (single-use) refresh token for a new token pair.
    pub async fn refresh(&self, refresh_token: &SecretString) -> Result<Grant, OAuthError> {
        let token = RefreshToken::new(refresh_token.expose_secret().to_owned());
        let reply = self
            .client
            .exchange_refresh_token(&token)
            .request_async(&self.http)
            .await;
        grant(reply)
    }
}

type Reply = Result<SlackTokenResponse, RequestTokenError<HttpError, BasicErrorResponse>>;

fn grant(reply: Reply) -> Result<Grant, OAuthError> {
    let r = reply.map_err(|e| match e {
        RequestTokenError::Request(e) => OAuthError::Unreachable(e.to_string()),
        RequestTokenError::ServerResponse(e) => OAuthError::Refused(e.error().to_string()),
        // The raw body may hold tokens: only the parse error's position is kept.
        RequestTokenError::Parse(e, _) => OAuthError::Unreadable(format!("at {}", e.path())),
        RequestTokenError::Other(e) => OAuthError::Unreadable(e),
    })?;
    if !r.ok {
        return Err(OAuthError::Refused(
            r.error
                .unwrap_or_else(|| "ok:false without an error code".into()),
        ));
    }
    let bot_token = r.access_token.secret().to_owned();
    if bot_token.is_empty() {
        return Err(OAuthError::Unreadable(
            "ok:true without an access_token".into(),
        ));
    }
    Ok(Grant {
        bot_token: SecretString::from(bot_token),
        refresh_token: r
            .refresh_token
            .map(|t| SecretString::from(t.secret().to_owned())),
        expires_in: r.expires_in.map(Duration::from_secs),
        team_id: r.team.as_ref().map(|t| t.id.clone()),
        team_name: r.team.and_then(|t| t.name),
        enterprise_id: r.enterprise.as_ref().map(|e| e.id.clone()),
        enterprise_name: r.enterprise.and_then(|e| e.name),
        is_enterprise_install: r.is_enterprise_install,
        bot_user_id: r.bot_user_id,
        app_id: r.app_id,
        scopes: r.scope,
        installer: r.authed_user.map(|u| u.id),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oauth() -> SlackOAuth {
        SlackOAuth::new(
            "123.456",
            &SecretString::from("shh"),
            "https://slack.com/oauth/v2/authorize",
            "https://slack.com/api",
            "https://relay.example.com/slack/oauth/callback",
            &["chat:write".into(), "commands".into()],
            Duration::from_secs(5),
        )
        .expect("valid settings")
    }

    #[test]
    fn authorize_url_carries_comma_separated_bot_scopes_and_the_state() {
        let url = oauth().authorize_url("st4te");
        assert!(
            url.starts_with("https://slack.com/oauth/v2/authorize?"),
            "{url}"
        );
        assert!(url.contains("client_id=123.456"), "{url}");
        assert!(url.contains("scope=chat%3Awrite%2Ccommands"), "{url}");
        assert!(url.contains("user_scope="), "{url}");
        assert!(url.contains("state=st4te"), "{url}");
        assert!(
            url.contains("redirect_uri=https%3A%2F%2Frelay.example.com%2Fslack%2Foauth%2Fcallback"),
            "{url}"
        );
        assert!(!url.contains("shh"));
    }

    #[test]
    fn slack_answers_are_read() {
        let ok: SlackTokenResponse = serde_json::from_str(
            r#"{"ok":true,"access_token":"xoxb-1","token_type":"bot","scope":"commands,chat:write","bot_user_id":"U0KRQLJ9H","app_id":"A0KRD7HC3","team":{"name":"Acme","id":"T9TK3CUKW"},"enterprise":null,"is_enterprise_install":false,"authed_user":{"id":"U1234","scope":"","access_token":null,"token_type":null},"expires_in":43200,"refresh_token":"xoxe-1-abc"}"#,
        )
        .expect("parses");
        let g = grant(Ok(ok)).expect("granted");
        assert_eq!(g.bot_token.expose_secret(), "xoxb-1");
        assert_eq!(g.team_id.as_deref(), Some("T9TK3CUKW"));
        assert_eq!(g.expires_in, Some(Duration::from_secs(43200)));
        assert!(g.refresh_token.is_some());
        assert_eq!(g.installer.as_deref(), Some("U1234"));

        let refused: SlackTokenResponse =
            serde_json::from_str(r#"{"ok":false,"error":"invalid_code"}"#).expect("parses");
        let e = grant(Ok(refused)).unwrap_err();
        assert!(matches!(&e, OAuthError::Refused(c) if c == "invalid_code"));
        assert!(e.advice().contains("10 minutes"));

        let grid: SlackTokenResponse = serde_json::from_str(
            r#"{"ok":true,"access_token":"xoxb-2","token_type":"bot","team":null,"enterprise":{"id":"E1","name":"Org"},"is_enterprise_install":true}"#,
        )
        .expect("parses");
        let g = grant(Ok(grid)).expect("granted");
        assert!(g.is_enterprise_install);
        assert_eq!(g.enterprise_id.as_deref(), Some("E1"));
        assert_eq!(g.team_id, None);
    }
}
