//! Which SonarQube connection a project key (and optional server URL or organization) means, and
//! the user's own token there.

use entity::{connection, user_link};
use sea_orm::{DatabaseConnection, DbErr};
use secrecy::SecretString;

use super::{Ctx, Reply, db_trouble};
use crate::domain::message::escape_mrkdwn;
use crate::domain::types::{ProjectKey, ServerUrl};
use crate::sonar::{Access, SonarError};
use crate::store::{catalog, links};

/// Connections matching a user-given server URL or organization.
pub async fn matching_connections(
    db: &DatabaseConnection,
    target: &str,
) -> Result<Vec<connection::Model>, DbErr> {
    let all = catalog::connections(db).await?;
    let url = ServerUrl::parse(target).ok();
    Ok(all
        .into_iter()
        .filter(|c| {
            url.as_ref().is_some_and(|u| u.as_str() == c.server_url)
                || c.organization
                    .as_deref()
                    .is_some_and(|o| o.eq_ignore_ascii_case(target.trim()))
        })
        .collect())
}

/// A connection the user is linked on, with the opened token.
pub struct Linked {
    pub connection: connection::Model,
    pub server: ServerUrl,
    pub login: String,
    pub token: SecretString,
}

/// The user's usable links among `connections`, and the connections they are not linked on.
pub fn linked_among(
    sealer: &crate::crypto::Sealer,
    team: &str,
    user: &str,
    connections: Vec<connection::Model>,
    user_links: &[user_link::Model],
) -> (Vec<Linked>, Vec<connection::Model>) {
    let mut linked = Vec::new();
    let mut unlinked = Vec::new();
    for c in connections {
        let link = user_links.iter().find(|l| l.connection_id == c.id);
        let opened = link.and_then(|l| {
            let context = links::user_token_context(team, user, c.id);
            let token = sealer.open(&l.token_sealed, &context).ok()?;
            let server = ServerUrl::parse(&c.server_url).ok()?;
            Some((server, l.sonar_login.clone(), token))
        });
        match opened {
            Some((server, login, token)) => linked.push(Linked {
                connection: c,
                server,
                login,
                token,
            }),
            None => unlinked.push(c),
        }
    }
    (linked, unlinked)
}

/// The connections the command may use, with the user's tokens; or why there are none.
pub(super) async fn user_connections(
    ctx: &Ctx<'_>,
    on: Option<&str>,
) -> Result<Vec<Linked>, Reply> {
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

/// Asks every linked connection about the key; the ones that know it.
pub(super) async fn find<'a>(
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
