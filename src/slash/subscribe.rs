//! `subscribe`: the user's own SonarQube token must have Browse on each project
//! (`api/components/show`); a new subscription seeds the project's gate from
//! `api/qualitygates/project_status`, so the very next change notifies.

use crate::actors::{SeedGate, Seeded};
use crate::domain::decision::Gate;
use crate::domain::message::escape_mrkdwn;
use crate::domain::types::{ChannelId, ProjectKey, TeamId};
use crate::slack::ChannelAccess;
use crate::sonar::{Access, SonarError};
use crate::store::{catalog, status};
use entity::subscription;

use super::outcome::{Outcome, gather, too_many};
use super::resolve::{Linked, find, user_connections};
use super::{Ctx, Reply};

pub async fn subscribe(ctx: &Ctx<'_>, keys: &[ProjectKey], on: Option<&str>) -> Reply {
    if let Some(reply) = too_many(ctx, "subscribe", keys) {
        return reply;
    }
    let linked = match user_connections(ctx, on).await {
        Ok(l) => l,
        Err(reply) => return reply,
    };
    if let Err(reply) = channel_reachable(ctx).await {
        return reply;
    }
    // Read once: the keys are distinct, so subscribing one does not change what the next finds.
    let existing =
        match catalog::channel_subscriptions(&ctx.state.db, &ctx.team, &ctx.inv.channel_id).await {
            Ok(subs) => subs,
            Err(e) => return super::db_trouble(e),
        };
    let mut outcomes = Vec::with_capacity(keys.len());
    for key in keys {
        outcomes.push(subscribe_one(ctx, &linked, &existing, key).await);
    }
    gather(outcomes)
}

/// A private channel (or a conversation) the bot cannot see gets nothing: say how to invite it.
async fn channel_reachable(ctx: &Ctx<'_>) -> Result<(), Reply> {
    let shared = &ctx.state.shared;
    let token = match shared.tokens.get(&ctx.team).await {
        Ok(t) => t,
        Err(problem) => {
            return Err(Reply::private(format!(
                "sonar-slack cannot post in this workspace right now: {problem}. A workspace admin can reinstall it at {}/slack/install",
                ctx.state.app.public_base
            )));
        }
    };
    match shared
        .slack
        .channel_access(&token, &ctx.inv.channel_id)
        .await
    {
        ChannelAccess::Postable {
            private: true,
            member: false,
        }
        | ChannelAccess::Hidden => Err(Reply::private(
            "I can't post here: this is a private channel (or a conversation) I'm not in. Run `/invite @` followed by the app's name in this channel, then subscribe again.",
        )),
        ChannelAccess::Postable { .. } => Ok(()),
        ChannelAccess::Unknown(why) => {
            // Posting may still work; a failed post will disable the subscription with the reason.
            tracing::warn!(reason = %why, "cannot check the channel; subscribing anyway");
            Ok(())
        }
    }
}

async fn subscribe_one(
    ctx: &Ctx<'_>,
    linked: &[Linked],
    existing: &[subscription::Model],
    key: &ProjectKey,
) -> Outcome {
    let shown = format!("`{}`", escape_mrkdwn(key.as_str()));
    let (found, errors) = find(ctx, linked, key).await;
    let (l, access) = match found.as_slice() {
        [] => return Outcome::Private(not_found(&shown, linked, &errors)),
        [one] => one,
        several => return Outcome::Private(ambiguous(ctx, "subscribe", key, several)),
    };
    let name = match access {
        Access::Browse { name } => name.clone(),
        Access::Denied | Access::NotFound => {
            return Outcome::Private(format!(
                "You don't have Browse permission on {shown} on {} (you are linked as {}). Ask a project administrator for it, then try again.",
                escape_mrkdwn(l.server.as_str()),
                escape_mrkdwn(&l.login)
            ));
        }
    };
    let (Ok(team), Ok(channel)) = (
        TeamId::parse(&ctx.team),
        ChannelId::parse(&ctx.inv.channel_id),
    ) else {
        return Outcome::Private("This conversation cannot receive notifications.".into());
    };
    let db = &ctx.state.db;
    let active = existing.iter().any(|s| {
        s.connection_id == l.connection.id
            && s.project_key == key.as_str()
            && s.status == status::ACTIVE
    });
    if active {
        return Outcome::Private(format!(
            "This channel is already subscribed to {shown} on {}.",
            escape_mrkdwn(l.server.as_str())
        ));
    }
    if let Err(e) = catalog::subscribe(
        db,
        &team,
        &channel,
        l.connection.id,
        key,
        Some(&ctx.inv.user_id),
    )
    .await
    {
        tracing::error!(error = %e, "cannot store a subscription");
        return Outcome::Private(format!(
            "{shown} could not be subscribed: sonar-slack's database did not answer. Try again in a minute."
        ));
    }
    let gate = seed(ctx, l, key).await;
    let label = match name {
        Some(n) if n != key.as_str() => format!("{} ({shown})", escape_mrkdwn(&n)),
        _ => shown,
    };
    Outcome::Public(format!(
        "<@{}> subscribed this channel to {label} on {}. {gate} This channel will hear when its main branch's quality gate goes from Passed to Failed or back.",
        ctx.inv.user_id,
        escape_mrkdwn(l.server.as_str())
    ))
}

/// Seeds the project's gate when none is known; says what the gate is.
async fn seed(ctx: &Ctx<'_>, l: &Linked, key: &ProjectKey) -> String {
    let gate = match ctx.state.sonar.gate_status(&l.server, &l.token, key).await {
        Ok(remote) => remote.gate(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the current gate; the next analysis will set it");
            return "Its current quality gate could not be read, so the next analysis sets it."
                .into();
        }
    };
    let Some(gate) = gate else {
        return "It has no quality gate result yet; the first one sets it.".into();
    };
    let seeded = ctx
        .state
        .registry
        .send(SeedGate {
            connection_id: l.connection.id,
            project_key: key.as_str().to_owned(),
            gate,
        })
        .await;
    let known = match seeded {
        Ok(Ok(Seeded::Stored)) => gate,
        Ok(Ok(Seeded::AlreadyKnown(g))) => g,
        _ => gate,
    };
    format!(
        "Its quality gate is *{}*.",
        match known {
            Gate::Passed => "Passed",
            Gate::Failed => "Failed",
        }
    )
}

fn not_found(shown: &str, linked: &[Linked], errors: &[SonarError]) -> String {
    if !errors.is_empty() {
        let why: Vec<String> = errors
            .iter()
            .map(|e| escape_mrkdwn(&e.to_string()))
            .collect();
        return format!("{shown} could not be checked: {}", why.join("; "));
    }
    let servers: Vec<&str> = linked.iter().map(|l| l.server.as_str()).collect();
    format!(
        "{shown} was not found on {} (or you cannot see it). Check the key on the project's Project Information page in SonarQube.",
        escape_mrkdwn(&servers.join(", "))
    )
}

fn ambiguous(ctx: &Ctx<'_>, sub: &str, key: &ProjectKey, several: &[(&Linked, Access)]) -> String {
    let choices: Vec<String> = several
        .iter()
        .map(|(l, _)| {
            format!(
                "`{} {sub} {} on {}`",
                ctx.command(),
                key.as_str(),
                l.server.as_str()
            )
        })
        .collect();
    format!(
        "`{}` exists on several SonarQube servers. Say which one: {}",
        escape_mrkdwn(key.as_str()),
        escape_mrkdwn(&choices.join(" or "))
    )
}
