//! `unsubscribe`: needs Browse on the project too (unless SonarQube no longer knows it).

use crate::domain::message::escape_mrkdwn;
use crate::domain::types::ProjectKey;
use crate::sonar::Access;
use crate::store::catalog;

use super::outcome::{Outcome, gather, too_many};
use super::resolve::{Linked, user_connections};
use super::{Ctx, Reply};

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
