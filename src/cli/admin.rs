//! The catalogue commands: thin wrappers over [`crate::store::catalog`] that explain what they did.

use anyhow::{Context, bail};
use sea_orm::DatabaseConnection;

use super::{ConnectionsCmd, RouteArgs, SubscriptionsCmd, WorkspacesCmd};
use crate::config::Settings;
use crate::crypto::Sealer;
use crate::domain::types::{ChannelId, ProjectKey, ServerUrl, TeamId};
use crate::store::catalog;

pub async fn connections(
    db: &DatabaseConnection,
    sealer: &Sealer,
    cmd: ConnectionsCmd,
) -> anyhow::Result<()> {
    match cmd {
        ConnectionsCmd::Add {
            server_url,
            secret,
            organization,
        } => {
            let url = ServerUrl::parse(&server_url)?;
            if !url.looks_like_http() {
                eprintln!(
                    "warning: {url} does not start with http:// or https://; it must equal the webhook's serverUrl exactly"
                );
            }
            if catalog::connection_by_url(db, &url).await?.is_some() {
                bail!(
                    "a connection for {url} already exists; change its secret with `sonar-slack connections update --server-url {url} --secret …`"
                );
            }
            let sealed = secret
                .filter(|s| !s.is_empty())
                .map(|s| sealer.seal(&s, &catalog::webhook_secret_context(url.as_str())));
            let signed = sealed.is_some();
            let c = catalog::add_connection(db, &url, organization.as_deref(), sealed).await?;
            println!(
                "added connection {} for {url} ({})",
                c.id,
                if signed {
                    "webhooks must be signed with the secret"
                } else {
                    "unsigned webhooks accepted: consider --secret"
                }
            );
        }
        ConnectionsCmd::List => {
            let all = catalog::connections(db).await?;
            if all.is_empty() {
                println!(
                    "no connections; add one with `sonar-slack connections add --server-url URL --secret S`"
                );
            }
            for c in all {
                println!(
                    "{}\t{}\t{}\t{}",
                    c.id,
                    c.server_url,
                    c.organization.as_deref().unwrap_or("-"),
                    if c.secret_sealed.is_some() {
                        "signed"
                    } else {
                        "unsigned"
                    }
                );
            }
        }
        ConnectionsCmd::Update {
            server_url,
            secret,
            no_secret,
            organization,
        } => {
            let url = ServerUrl::parse(&server_url)?;
            let c = catalog::connection_by_url(db, &url)
                .await?
                .with_context(|| {
                    format!("no connection for {url}; add it with `sonar-slack connections add`")
                })?;
            let sealed = match (secret.filter(|s| !s.is_empty()), no_secret) {
                (Some(s), _) => Some(Some(
                    sealer.seal(&s, &catalog::webhook_secret_context(url.as_str())),
                )),
                (None, true) => Some(None),
                (None, false) => None,
            };
            if sealed.is_none() && organization.is_none() {
                bail!("nothing to change: give --secret, --no-secret or --organization");
            }
            catalog::update_connection(db, c.id, sealed, organization.as_deref()).await?;
            println!("updated connection {} for {url}", c.id);
        }
        ConnectionsCmd::Remove { server_url } => {
            let url = ServerUrl::parse(&server_url)?;
            let c = catalog::connection_by_url(db, &url)
                .await?
                .with_context(|| format!("no connection for {url}"))?;
            catalog::remove_connection(db, c.id).await?;
            println!(
                "removed connection {} for {url} with its subscriptions",
                c.id
            );
        }
    }
    Ok(())
}

pub async fn workspaces(
    db: &DatabaseConnection,
    sealer: &Sealer,
    cmd: WorkspacesCmd,
) -> anyhow::Result<()> {
    match cmd {
        WorkspacesCmd::Add {
            team_id,
            bot_token,
            team_name,
        } => {
            let team = TeamId::parse(&team_id)?;
            let token = bot_token.trim();
            if !token.starts_with("xoxb-") {
                bail!(
                    "the bot token must start with xoxb- (find it under OAuth & Permissions in your Slack app)"
                );
            }
            let sealed = sealer.seal(token, &catalog::bot_token_context(team.as_str()));
            catalog::upsert_workspace(db, &team, team_name.as_deref(), sealed).await?;
            println!("workspace {team} saved; its bot token is sealed with AES-256-GCM");
        }
        WorkspacesCmd::List => {
            let all = catalog::workspaces(db).await?;
            if all.is_empty() {
                println!(
                    "no workspaces; add one with `sonar-slack workspaces add --team-id T… --bot-token xoxb-…`"
                );
            }
            for w in all {
                println!(
                    "{}\t{}\t{}{}",
                    w.team_id,
                    w.team_name.as_deref().unwrap_or("-"),
                    w.status,
                    w.disabled_reason
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default()
                );
            }
        }
        WorkspacesCmd::Remove { team_id } => {
            let team = TeamId::parse(&team_id)?;
            if !catalog::remove_workspace(db, &team).await? {
                bail!("no workspace {team}");
            }
            println!("removed workspace {team} and its subscriptions");
        }
    }
    Ok(())
}

pub async fn subscriptions(db: &DatabaseConnection, cmd: SubscriptionsCmd) -> anyhow::Result<()> {
    match cmd {
        SubscriptionsCmd::Add(route) => {
            let (team, channel, project, connection_id) = resolve(db, &route).await?;
            if catalog::workspace(db, team.as_str()).await?.is_none() {
                eprintln!(
                    "warning: workspace {team} is not added yet; messages wait for `sonar-slack workspaces add --team-id {team}`"
                );
            }
            let was_disabled = catalog::channel_subscriptions(db, team.as_str(), channel.as_str())
                .await?
                .into_iter()
                .find(|s| {
                    s.connection_id == connection_id
                        && s.project_key == project.as_str()
                        && s.status != crate::store::status::ACTIVE
                });
            let s = catalog::subscribe(db, &team, &channel, connection_id, &project, Some("cli"))
                .await?;
            println!(
                "subscription {}: {channel} in {team} hears about {project}{}",
                s.id,
                was_disabled
                    .map(|d| format!(
                        " again (re-enabled; it was disabled: {})",
                        d.disabled_reason.as_deref().unwrap_or("no reason recorded")
                    ))
                    .unwrap_or_default()
            );
        }
        SubscriptionsCmd::List => {
            let conns = catalog::connections(db).await?;
            let spaces = catalog::workspaces(db).await?;
            let all = catalog::subscriptions(db).await?;
            if all.is_empty() {
                println!("no subscriptions");
            }
            for s in all {
                let url = conns
                    .iter()
                    .find(|c| c.id == s.connection_id)
                    .map_or("?", |c| c.server_url.as_str());
                let mut state = s.status.clone();
                if let Some(reason) = &s.disabled_reason {
                    state.push_str(&format!(" ({reason})"));
                }
                match spaces.iter().find(|w| w.team_id == s.team_id) {
                    None => state.push_str("; workspace not added yet, messages wait for it"),
                    Some(w) if w.status != "active" => state.push_str(&format!(
                        "; workspace disabled ({})",
                        w.disabled_reason.as_deref().unwrap_or("no reason recorded")
                    )),
                    Some(_) => {}
                }
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{state}",
                    s.id, s.team_id, s.channel_id, s.project_key, url
                );
            }
        }
        SubscriptionsCmd::Enable(args) => super::enable::enable(db, &args).await?,
        SubscriptionsCmd::Remove(route) => {
            let (team, channel, project, connection_id) = resolve(db, &route).await?;
            let found = catalog::subscriptions(db).await?.into_iter().find(|s| {
                s.team_id == team.as_str()
                    && s.channel_id == channel.as_str()
                    && s.project_key == project.as_str()
                    && s.connection_id == connection_id
            });
            let s = found
                .with_context(|| format!("{channel} in {team} is not subscribed to {project}"))?;
            catalog::remove_subscription(db, s.id).await?;
            println!("removed subscription {}", s.id);
        }
    }
    Ok(())
}

pub(super) async fn resolve(
    db: &DatabaseConnection,
    r: &RouteArgs,
) -> anyhow::Result<(TeamId, ChannelId, ProjectKey, i64)> {
    let team = TeamId::parse(&r.team_id)?;
    let channel = ChannelId::parse(&r.channel_id)?;
    let project = ProjectKey::parse(&r.project)?;
    let conns = catalog::connections(db).await?;
    let connection = match &r.server_url {
        Some(u) => {
            let url = ServerUrl::parse(u)?;
            conns
                .into_iter()
                .find(|c| c.server_url == url.as_str())
                .with_context(|| format!("no connection for {url}; add it with `sonar-slack connections add --server-url {url}`"))?
        }
        None => match conns.len() {
            0 => bail!(
                "no connections yet; add one with `sonar-slack connections add --server-url URL`"
            ),
            1 => conns.into_iter().next().context("connection vanished")?,
            _ => bail!(
                "several connections exist; say which with --server-url (one of: {})",
                conns
                    .iter()
                    .map(|c| c.server_url.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
    };
    Ok((team, channel, project, connection.id))
}

/// The Slack app manifest for this service at `public_url` (or the configured public URL).
pub fn manifest(settings: &Settings, public_url: Option<&str>) -> anyhow::Result<String> {
    let base = match public_url {
        Some(url) => url.trim().to_owned(),
        None => match &settings.public_url {
            Some(url) => url.clone(),
            None => bail!(
                "give the URL Slack will reach this service at: `sonar-slack manifest --public-url https://…` (or set SONAR_SLACK_PUBLIC_URL)"
            ),
        },
    };
    if let Err(why) = crate::config::check_public_url(&base) {
        bail!("--public-url {why}");
    }
    if !base.starts_with("https://") {
        eprintln!(
            "warning: Slack only calls https:// URLs; use the public https address (a tunnel or reverse proxy) for a real app"
        );
    }
    let scopes = settings.bot_scopes();
    let scopes: Vec<&str> = scopes.iter().map(String::as_str).collect();
    let m = crate::slack::manifest::manifest(
        &base,
        &settings.slack_command,
        &settings.slack_app_name,
        &scopes,
    );
    Ok(serde_json::to_string_pretty(&m)?)
}
