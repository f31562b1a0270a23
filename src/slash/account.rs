//! `connect` (a one-time link to the linking page) and `disconnect` (drop the user's links).

use chrono::Duration;

use super::resolve::matching_connections;
use super::{Ctx, Reply, db_trouble};
use crate::crypto::random_token;
use crate::domain::message::escape_mrkdwn;
use crate::store::{catalog, links, onetime};

/// How long a linking link works.
const LINK_TTL_MINUTES: i64 = 10;

pub async fn connect(ctx: &Ctx<'_>) -> Reply {
    let db = &ctx.state.db;
    let connections = match catalog::connections(db).await {
        Ok(c) => c,
        Err(e) => return db_trouble(e),
    };
    if connections.is_empty() {
        return Reply::private(
            "No SonarQube server is configured yet. An operator must first add one with `sonar-slack connections add --server-url <URL>`.",
        );
    }
    let token = random_token();
    let ttl = Duration::minutes(LINK_TTL_MINUTES);
    if let Err(e) = onetime::add_link_token(db, &token, &ctx.team, &ctx.inv.user_id, ttl).await {
        return db_trouble(e);
    }
    let url = format!("{}/connect/{token}", ctx.state.app.public_base);
    let mut text = format!(
        "<{url}|Link your SonarQube account>: open it within {LINK_TTL_MINUTES} minutes and paste a SonarQube user token. It works once; don't share it: the account pasted there is linked to your Slack user."
    );
    let existing = linked_servers(ctx).await;
    if !existing.is_empty() {
        text.push_str(&format!(
            "\nAlready linked: {}. Linking again replaces that link.",
            escape_mrkdwn(&existing.join(", "))
        ));
    }
    Reply::private(text)
}

pub async fn disconnect(ctx: &Ctx<'_>, target: Option<&str>) -> Reply {
    let db = &ctx.state.db;
    let connection = match target {
        None => None,
        Some(t) => match matching_connections(db, t).await {
            Ok(found) if found.len() == 1 => found.into_iter().next(),
            Ok(found) if found.is_empty() => {
                let yours = linked_servers(ctx).await;
                return Reply::private(format!(
                    "No SonarQube server or organization matches “{}”. You are linked on: {}. `{} disconnect` alone removes all your links.",
                    escape_mrkdwn(t),
                    if yours.is_empty() {
                        "nothing".to_owned()
                    } else {
                        escape_mrkdwn(&yours.join(", "))
                    },
                    ctx.command()
                ));
            }
            Ok(_) => {
                return Reply::private(format!(
                    "“{}” matches several SonarQube servers; name one by its URL.",
                    escape_mrkdwn(t)
                ));
            }
            Err(e) => return db_trouble(e),
        },
    };
    match links::unlink(
        db,
        &ctx.team,
        &ctx.inv.user_id,
        connection.as_ref().map(|c| c.id),
    )
    .await
    {
        Ok(0) => Reply::private(format!(
            "Your Slack account was not linked{}. Nothing to do.",
            connection
                .map(|c| format!(" on {}", escape_mrkdwn(&c.server_url)))
                .unwrap_or_default()
        )),
        Ok(n) => Reply::private(format!(
            "Unlinked your SonarQube account ({n} link{}); its token is deleted. Subscriptions you made stay. `{} connect` links again.",
            if n == 1 { "" } else { "s" },
            ctx.command()
        )),
        Err(e) => db_trouble(e),
    }
}

/// "https://sonar.example.com as alice" for each of the user's links.
async fn linked_servers(ctx: &Ctx<'_>) -> Vec<String> {
    let db = &ctx.state.db;
    let (Ok(links), Ok(connections)) = (
        links::links_of(db, &ctx.team, &ctx.inv.user_id).await,
        catalog::connections(db).await,
    ) else {
        return Vec::new();
    };
    links
        .iter()
        .filter_map(|l| {
            let c = connections.iter().find(|c| c.id == l.connection_id)?;
            Some(format!("{} as {}", c.server_url, l.sonar_login))
        })
        .collect()
}
