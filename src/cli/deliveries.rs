//! `deliveries list` and `deliveries retry`: the dead letters, seen and put back in the queue.

use anyhow::bail;
use sea_orm::DatabaseConnection;

use super::DeliveriesCmd;
use crate::config::Settings;
use crate::domain::retry::{RetryCheck, RetryFacts, Route, Standing, check_retry};
use crate::store::operator::{self, Found};
use crate::store::status;

pub async fn run(
    db: &DatabaseConnection,
    settings: &Settings,
    cmd: DeliveriesCmd,
) -> anyhow::Result<()> {
    match cmd {
        DeliveriesCmd::List { state, limit } => list(db, state.map(|s| s.as_str()), limit).await,
        DeliveriesCmd::Retry {
            ids,
            all,
            even_if_posted,
        } => retry(db, settings, ids, all, even_if_posted).await,
    }
}

async fn list(db: &DatabaseConnection, state: Option<&str>, limit: u64) -> anyhow::Result<()> {
    let (rows, total) = operator::list(db, state, limit).await?;
    if rows.is_empty() {
        match state {
            Some(s) => println!("no {s} deliveries"),
            None => println!(
                "no deliveries yet: they are made when a subscribed project's gate changes"
            ),
        }
        return Ok(());
    }
    println!("id\tcreated\tteam\tchannel\tproject\tstate\tattempts\tambiguous\tlast error");
    for r in &rows {
        let d = &r.delivery;
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            d.id,
            d.created_at.format("%Y-%m-%d %H:%M:%S UTC"),
            d.team_id,
            d.channel_id,
            r.project_key,
            d.status,
            d.attempts,
            d.ambiguous_attempts,
            d.last_error.as_deref().unwrap_or("-")
        );
    }
    if total > rows.len() as u64 {
        println!("(the newest {} of {total}; --limit shows more)", rows.len());
    }
    Ok(())
}

async fn retry(
    db: &DatabaseConnection,
    settings: &Settings,
    ids: Vec<i64>,
    all: bool,
    even_if_posted: bool,
) -> anyhow::Result<()> {
    let ids = if all {
        let failed = operator::failed_ids(db).await?;
        if failed.is_empty() {
            println!("no failed deliveries; nothing to retry");
            return Ok(());
        }
        failed
    } else {
        ids
    };
    let max_ambiguous = settings.retry_max_ambiguous;
    let (mut retried, mut refused) = (0usize, 0usize);
    for id in ids {
        let Some(found) = operator::find(db, id).await? else {
            println!(
                "delivery {id}: not retried: there is no such delivery (see `sonar-slack deliveries list`)"
            );
            refused += 1;
            continue;
        };
        let d = &found.listed.delivery;
        let route = Route {
            team: d.team_id.clone(),
            channel: d.channel_id.clone(),
            project: found.listed.project_key.clone(),
        };
        match check_retry(&facts(&found, max_ambiguous, even_if_posted)) {
            RetryCheck::Refuse(why) => {
                println!("delivery {id}: not retried: {}", why.explain(&route));
                refused += 1;
            }
            RetryCheck::Retry {
                reset_ambiguous,
                maybe_posted,
            } => {
                if !operator::requeue(db, id, d.ambiguous_attempts, reset_ambiguous).await? {
                    println!(
                        "delivery {id}: not retried: it changed meanwhile (see `sonar-slack deliveries list`)"
                    );
                    refused += 1;
                    continue;
                }
                retried += 1;
                println!(
                    "delivery {id}: back to pending ({} to {} in {}; it failed with: {})",
                    route.project,
                    route.channel,
                    route.team,
                    d.last_error.as_deref().unwrap_or("no reason recorded")
                );
                if maybe_posted > 0 {
                    eprintln!(
                        "warning: delivery {id} may already be in Slack ({maybe_posted} earlier attempt{} may have posted){}: Slack may show it twice",
                        if maybe_posted == 1 { "" } else { "s" },
                        if reset_ambiguous {
                            "; its count of such attempts starts again from 0"
                        } else {
                            ""
                        }
                    );
                }
            }
        }
    }
    if retried > 0 {
        println!(
            "{retried} deliver{} back to pending: a running service sends {} within {} s (SONAR_SLACK_DELIVERY_SWEEP_SECS), or at its next start",
            if retried == 1 { "y" } else { "ies" },
            if retried == 1 { "it" } else { "them" },
            settings.delivery_sweep_secs
        );
    }
    if all && retried == 0 {
        println!(
            "none of the {refused} failed deliveries can be retried now; see the reasons above"
        );
    }
    if refused > 0 && !all {
        bail!(
            "{refused} deliver{} not retried; see the reasons above",
            if refused == 1 { "y was" } else { "ies were" }
        );
    }
    Ok(())
}

fn facts(found: &Found, max_ambiguous: u32, even_if_posted: bool) -> RetryFacts {
    let standing = |state: &str, reason: Option<&str>| {
        if state == status::ACTIVE {
            Standing::Active
        } else {
            Standing::Disabled(reason.unwrap_or("no reason recorded").to_owned())
        }
    };
    let d = &found.listed.delivery;
    RetryFacts {
        status: d.status.clone(),
        subscription: found.subscription.as_ref().map_or(Standing::Missing, |s| {
            standing(&s.status, s.disabled_reason.as_deref())
        }),
        workspace: found.workspace.as_ref().map_or(Standing::Missing, |w| {
            standing(&w.status, w.disabled_reason.as_deref())
        }),
        ambiguous_attempts: u32::try_from(d.ambiguous_attempts).unwrap_or(0),
        max_ambiguous,
        even_if_posted,
    }
}
