//! `subscriptions enable`: puts disabled subscriptions back to work and says what it did.

use anyhow::bail;
use sea_orm::DatabaseConnection;

use super::{EnableArgs, RouteArgs};
use crate::domain::types::{ChannelId, TeamId};
use crate::store::{catalog, operator, status};

pub async fn enable(db: &DatabaseConnection, args: &EnableArgs) -> anyhow::Result<()> {
    let team = TeamId::parse(&args.team_id)?;
    let channel = ChannelId::parse(&args.channel_id)?;
    let only = match &args.project {
        Some(project) => {
            let route = RouteArgs {
                team_id: args.team_id.clone(),
                channel_id: args.channel_id.clone(),
                project: project.clone(),
                server_url: args.server_url.clone(),
            };
            let (_, _, project, connection_id) = super::admin::resolve(db, &route).await?;
            Some((connection_id, project))
        }
        None => None,
    };
    let only_ref = only.as_ref().map(|(c, p)| (*c, p.as_str()));
    let enabled =
        operator::enable_subscriptions(db, team.as_str(), channel.as_str(), only_ref).await?;
    if enabled.is_empty() {
        let subs = catalog::channel_subscriptions(db, team.as_str(), channel.as_str()).await?;
        let matching: Vec<_> = subs
            .iter()
            .filter(|s| only_ref.is_none_or(|(c, p)| s.connection_id == c && s.project_key == p))
            .collect();
        let what = match &only {
            Some((_, project)) => format!("{channel} in {team} to {project}"),
            None => format!("{channel} in {team}"),
        };
        if matching.is_empty() {
            bail!(
                "there is no subscription of {what}; add one with `sonar-slack subscriptions add --team-id {team} --channel-id {channel} --project KEY`"
            );
        }
        println!(
            "nothing to re-enable: the {} subscription{} of {what} {} already active",
            matching.len(),
            if matching.len() == 1 { "" } else { "s" },
            if matching.len() == 1 { "is" } else { "are" }
        );
        return Ok(());
    }
    for s in &enabled {
        println!(
            "re-enabled subscription {}: {channel} in {team} hears about {} again (it was disabled: {})",
            s.id,
            s.project_key,
            s.disabled_reason.as_deref().unwrap_or("no reason recorded")
        );
    }
    if let Some(w) = catalog::workspace(db, team.as_str()).await?
        && w.status != status::ACTIVE
    {
        eprintln!(
            "warning: workspace {team} is disabled ({}); nothing is posted until the app is reinstalled or `sonar-slack workspaces add --team-id {team}` gives a new token",
            w.disabled_reason.as_deref().unwrap_or("no reason recorded")
        );
    }
    let ids: Vec<i64> = enabled.iter().map(|s| s.id).collect();
    let failed = operator::failed_for(db, &ids).await?;
    if failed > 0 {
        println!(
            "{failed} failed deliver{} of {} can be sent now: `sonar-slack deliveries list --state failed`, then `sonar-slack deliveries retry ID…`",
            if failed == 1 { "y" } else { "ies" },
            if ids.len() == 1 {
                "this subscription"
            } else {
                "these subscriptions"
            }
        );
    }
    Ok(())
}
