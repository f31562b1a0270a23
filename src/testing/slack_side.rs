//! Drives the service as Slack and a browser do: signed slash commands and events, the OAuth
//! install with its cookie, and the account-linking form with its CSRF cookie. Used by the
//! integration tests and the demo.

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::Value;

use crate::domain::slack_signature::slack_signature;

/// Slack's side of the app: every request is signed with the app's signing secret.
pub struct SlackSide {
    pub base: String,
    pub client: reqwest::Client,
    signing_secret: String,
    team_id: String,
    /// Set for an organization-wide (Enterprise Grid) install.
    enterprise_id: Option<String>,
}

/// A browser: no redirects followed, cookies handled by hand.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default()
}

impl SlackSide {
    pub fn new(base: &str, signing_secret: &str, team_id: &str) -> Self {
        Self {
            base: base.to_owned(),
            client: browser(),
            signing_secret: signing_secret.to_owned(),
            team_id: team_id.to_owned(),
            enterprise_id: None,
        }
    }

    /// Commands come from a workspace of this Enterprise Grid organization, installed org-wide.
    pub fn org_wide(mut self, enterprise_id: &str) -> Self {
        self.enterprise_id = Some(enterprise_id.to_owned());
        self
    }

    /// Posts `body` to `path`, signed as if sent `skew` seconds from now.
    pub async fn signed(
        &self,
        path: &str,
        body: &[u8],
        content_type: &str,
        skew: i64,
    ) -> reqwest::Result<reqwest::Response> {
        let ts = (chrono::Utc::now().timestamp() + skew).to_string();
        let sig = slack_signature(self.signing_secret.as_bytes(), &ts, body);
        self.client
            .post(format!("{}{path}", self.base))
            .header("Content-Type", content_type)
            .header("X-Slack-Request-Timestamp", ts)
            .header("X-Slack-Signature", sig)
            .body(body.to_vec())
            .send()
            .await
    }

    /// The form Slack posts for `/sonarqube <text>`.
    pub fn command_body(
        &self,
        user: &str,
        channel: &str,
        text: &str,
        response_url: &str,
    ) -> Vec<u8> {
        let (enterprise, org_wide) = match &self.enterprise_id {
            Some(e) => (e.as_str(), "true"),
            None => ("", "false"),
        };
        serde_urlencoded::to_string([
            ("token", "deprecated-verification-token"),
            ("team_id", self.team_id.as_str()),
            ("team_domain", "acme"),
            ("channel_id", channel),
            ("channel_name", "builds"),
            ("user_id", user),
            ("user_name", "someone"),
            ("command", "/sonarqube"),
            ("text", text),
            ("api_app_id", "AFAKEAPP"),
            ("enterprise_id", enterprise),
            ("is_enterprise_install", org_wide),
            ("response_url", response_url),
            ("trigger_id", "13345224609.738474920.8088930838d88f008e0"),
        ])
        .unwrap_or_default()
        .into_bytes()
    }

    /// Runs `/sonarqube <text>` as `user` in `channel`: the status and the JSON answer.
    pub async fn command(
        &self,
        user: &str,
        channel: &str,
        text: &str,
        response_url: &str,
    ) -> reqwest::Result<(u16, Value)> {
        let body = self.command_body(user, channel, text, response_url);
        let res = self
            .signed(
                "/slack/commands",
                &body,
                "application/x-www-form-urlencoded",
                0,
            )
            .await?;
        let status = res.status().as_u16();
        Ok((status, res.json().await.unwrap_or(Value::Null)))
    }

    /// Sends an Events API envelope.
    pub async fn event(&self, envelope: &Value) -> reqwest::Result<(u16, Value)> {
        let body = serde_json::to_vec(envelope).unwrap_or_default();
        let res = self
            .signed("/slack/events", &body, "application/json", 0)
            .await?;
        let status = res.status().as_u16();
        Ok((status, res.json().await.unwrap_or(Value::Null)))
    }
}

/// What a browser saw going through the install.
#[derive(Debug)]
pub struct InstallRun {
    /// Where `/slack/install` sent the browser (Slack's authorize page).
    pub authorize_url: String,
    pub status: u16,
    pub page: String,
}

/// Installs the app as a browser does: `/slack/install`, Slack's approval (the fake issues
/// `code`), then the callback with the cookie the install set.
pub async fn install(base: &str, code: &str) -> anyhow::Result<InstallRun> {
    let browser = browser();
    let start = browser.get(format!("{base}/slack/install")).send().await?;
    anyhow::ensure!(
        start.status() == 302,
        "/slack/install answered {}",
        start.status()
    );
    let authorize_url = start
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let cookie = cookie_of(&start, "sonar_slack_install")?;
    let state = reqwest::Url::parse(&authorize_url)?
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| anyhow::anyhow!("no state in {authorize_url}"))?;
    let res = browser
        .get(format!("{base}/slack/oauth/callback"))
        .query(&[("code", code), ("state", state.as_str())])
        .header(COOKIE, cookie)
        .send()
        .await?;
    Ok(InstallRun {
        authorize_url,
        status: res.status().as_u16(),
        page: res.text().await?,
    })
}

/// `name=value` of a cookie the response sets.
pub fn cookie_of(res: &reqwest::Response, name: &str) -> anyhow::Result<String> {
    res.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("no {name} cookie was set"))
}

/// The linking URL in a `connect` answer.
pub fn link_in(answer: &Value) -> Option<String> {
    let text = answer["text"].as_str()?;
    let start = text.find("http")?;
    let end = text[start..].find('|')? + start;
    Some(text[start..end].to_owned())
}

/// Opens the linking page and submits `sonar_token` for `connection`: status and page.
pub async fn link_account(
    link: &str,
    connection: i64,
    sonar_token: &str,
) -> anyhow::Result<(u16, String)> {
    let browser = browser();
    let form = browser.get(link).send().await?;
    anyhow::ensure!(form.status() == 200, "the link answered {}", form.status());
    let cookie = cookie_of(&form, "sonar_slack_csrf")?;
    let page = form.text().await?;
    let csrf = hidden_csrf(&page).ok_or_else(|| anyhow::anyhow!("no csrf field"))?;
    let res = browser
        .post(link)
        .header(COOKIE, cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("connection", &connection.to_string()),
            ("sonar_token", sonar_token),
        ])
        .send()
        .await?;
    Ok((res.status().as_u16(), res.text().await?))
}

/// The CSRF value in the linking form.
pub fn hidden_csrf(page: &str) -> Option<String> {
    let marker = "name=\"csrf\" value=\"";
    let start = page.find(marker)? + marker.len();
    let end = page[start..].find('"')? + start;
    Some(page[start..end].to_owned())
}

/// The text of an HTML page's first paragraph, for printing.
pub fn first_paragraph(page: &str) -> String {
    let Some(start) = page.find("<p>") else {
        return String::new();
    };
    let rest = &page[start + 3..];
    let end = rest.find("</p>").unwrap_or(rest.len());
    let mut text = String::new();
    let mut in_tag = false;
    for c in rest[..end].chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}
