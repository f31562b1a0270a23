//! `subscribe` and `unsubscribe`: the user's own SonarQube token must have Browse on each project
//! (`api/components/show`); a new subscription seeds the project's gate from
//! `api/qualitygates/project_status`, so the very next change notifies.

use crate::actors::{SeedGate, Seeded};
use crate::domain::decision::Gate;
use crate::domain::message::escape_mrkdwn;
use crate::domain::types::{ChannelId, ProjectKey, TeamId};
use crate::slack::ChannelAccess;
use crate::sonar::{Access, SonarError};
use crate::store::{catalog, links, status};

use super::resolve::{Linked, linked_among, matching_connections};
use super::{Ctx, Reply, db_trouble};

/// One key's outcome.
enum Outcome {
    /// Said to the channel.
    Public(String),
    /// Said to the user only.
    Private(String),
}

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
    let mut outcomes = Vec::with_capacity(keys.len());
    for key in keys {
        outcomes.push(subscribe_one(ctx, &linked, key).await);
    }
    gather(outcomes)
}

pub async fn unsubscribe(ctx: &Ctx<'_>, keys: &[ProjectKey], on: Option<&str>) -> Reply {
    if let Some(reply) = too_many(ctx, "unsubscribe", keys) {
        return reply;
    }
    let linked = match user_connections(ctx, on).await {
        Ok(l) => l,
        Err(reply) => return reply,
    };
    let mut outcomes = Vec::with_capacity(keys.len());
    for key in keys {
        outcomes.push(unsubscribe_one(ctx, &linked, key, on).await);
    }
    gather(outcomes)
}

/// Keys per command: each costs SonarQube calls, and the answer must stay readable.
const MAX_KEYS: usize = 20;

fn too_many(ctx: &Ctx<'_>, sub: &str, keys: &[ProjectKey]) -> Option<Reply> {
    (keys.len() > MAX_KEYS).then(|| {
        Reply::private(format!(
            "That is {} projects; `{} {sub}` takes at most {MAX_KEYS} at a time. Split them over several commands.",
            keys.len(),
            ctx.command()
        ))
    })
}

/// The connections the command may use, with the user's tokens; or why there are none.
async fn user_connections(ctx: &Ctx<'_>, on: Option<&str>) -> Result<Vec<Linked>, Reply> {
    let db = &ctx.state.db;
    let candidates = match on {
        Some(target) => {
            let found = matching_connections(db, target).await.map_err(db_trouble)?;
            if found.is_empty() {
                let known = catalog::connections(db).await.map_err(db_trouble)?;
                let names: Vec<String> = known
                    .iter()
                    .map(|c| match &c.organization {
                        Some(o) => format!("{} (org {})", c.server_url, o),
                        None => c.server_url.clone(),
                    })
                    .collect();
                return Err(Reply::private(format!(
                    "No SonarQube server or organization here matches “{}”. Known: {}.",
                    escape_mrkdwn(target),
                    escape_mrkdwn(&names.join(", "))
                )));
            }
            found
        }
        None => catalog::connections(db).await.map_err(db_trouble)?,
    };
    if candidates.is_empty() {
        return Err(Reply::private(
            "No SonarQube server is configured yet. An operator must first add one with `sonar-slack connections add --server-url <URL>`.",
        ));
    }
    let user_links = links::links_of(db, &ctx.team, &ctx.inv.user_id)
        .await
        .map_err(db_trouble)?;
    let (linked, unlinked) = linked_among(
        &ctx.state.sealer,
        &ctx.team,
        &ctx.inv.user_id,
        candidates,
        &user_links,
    );
    if linked.is_empty() {
        let where_ = if on.is_some() {
            unlinked
                .iter()
                .map(|c| c.server_url.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        } else {
            "SonarQube".to_owned()
        };
        return Err(Reply::private(format!(
            "Your Slack account is not linked to your account on {}. Run `{} connect`, follow the link, then try again: your SonarQube permissions decide which projects you may subscribe to.",
            escape_mrkdwn(&where_),
            ctx.command()
        )));
    }
    Ok(linked)
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

/// Asks every linked connection about the key; the ones that know it.
async fn find<'a>(
    ctx: &Ctx<'_>,
    linked: &'a [Linked],
    key: &ProjectKey,
) -> (Vec<(&'a Linked, Access)>, Vec<SonarError>) {
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for l in linked {
        match ctx.state.sonar.component(&l.server, &l.token, key).await {
            Ok(Access::NotFound) => {}
            Ok(access) => found.push((l, access)),
            Err(e) => errors.push(e),
        }
    }
    (found, errors)
}

async fn subscribe_one(ctx: &Ctx<'_>, linked: &[Linked], key: &ProjectKey) -> Outcome {
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
    let before = catalog::channel_subscriptions(db, &ctx.team, &ctx.inv.channel_id)
        .await
        .ok()
        .and_then(|subs| {
            subs.into_iter()
                .find(|s| s.connection_id == l.connection.id && s.project_key == key.as_str())
        });
    if before.as_ref().is_some_and(|s| s.status == status::ACTIVE) {
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
        Some(n) if n != key.as_str() => format!("*{}* ({shown})", escape_mrkdwn(&n)),
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

async fn unsubscribe_one(
    ctx: &Ctx<'_>,
    linked: &[Linked],
    key: &ProjectKey,
    on: Option<&str>,
) -> Outcome {
    let shown = format!("`{}`", escape_mrkdwn(key.as_str()));
    let db = &ctx.state.db;
    let subs = match catalog::channel_subscriptions(db, &ctx.team, &ctx.inv.channel_id).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot read subscriptions");
            return Outcome::Private(
                "sonar-slack's database did not answer; try again in a minute.".into(),
            );
        }
    };
    let mut matching: Vec<_> = subs
        .into_iter()
        .filter(|s| s.project_key == key.as_str())
        .collect();
    if on.is_some() {
        let allowed: Vec<i64> = linked.iter().map(|l| l.connection.id).collect();
        matching.retain(|s| allowed.contains(&s.connection_id));
    }
    let sub = match matching.as_slice() {
        [] => {
            return Outcome::Private(format!(
                "This channel is not subscribed to {shown}. `{} list` shows what it is subscribed to.",
                ctx.command()
            ));
        }
        [one] => one.clone(),
        several => {
            let servers: Vec<String> = several
                .iter()
                .filter_map(|s| linked.iter().find(|l| l.connection.id == s.connection_id))
                .map(|l| {
                    format!(
                        "`{} {} on {}`",
                        ctx.command(),
                        "unsubscribe",
                        l.server.as_str()
                    )
                })
                .collect();
            return Outcome::Private(format!(
                "This channel follows {shown} on several SonarQube servers. Say which: {}",
                escape_mrkdwn(&servers.join(" or "))
            ));
        }
    };
    let Some(l) = linked.iter().find(|l| l.connection.id == sub.connection_id) else {
        return Outcome::Private(format!(
            "{shown} is followed from a SonarQube server you are not linked on. Run `{} connect` and link that server, then try again.",
            ctx.command()
        ));
    };
    match ctx.state.sonar.component(&l.server, &l.token, key).await {
        // A project deleted in SonarQube can still be unsubscribed.
        Ok(Access::Browse { .. }) | Ok(Access::NotFound) => {}
        Ok(Access::Denied) => {
            return Outcome::Private(format!(
                "You don't have Browse permission on {shown} on {} (linked as {}), which unsubscribing needs. Ask a project administrator.",
                escape_mrkdwn(l.server.as_str()),
                escape_mrkdwn(&l.login)
            ));
        }
        Err(e) => return Outcome::Private(format!("{shown}: {}", escape_mrkdwn(&e.to_string()))),
    }
    match catalog::remove_subscription(db, sub.id).await {
        Ok(_) => Outcome::Public(format!(
            "<@{}> unsubscribed this channel from {shown} on {}.",
            ctx.inv.user_id,
            escape_mrkdwn(l.server.as_str())
        )),
        Err(e) => {
            tracing::error!(error = %e, "cannot remove a subscription");
            Outcome::Private("sonar-slack's database did not answer; try again in a minute.".into())
        }
    }
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

/// Channel-worthy lines go to the channel; the rest to the user.
fn gather(outcomes: Vec<Outcome>) -> Reply {
    let mut public = Vec::new();
    let mut private = Vec::new();
    for o in outcomes {
        match o {
            Outcome::Public(t) => public.push(t),
            Outcome::Private(t) => private.push(t),
        }
    }
    let join = |v: Vec<String>| (!v.is_empty()).then(|| v.join("\n"));
    Reply {
        public: join(public),
        private: join(private),
    }
}
