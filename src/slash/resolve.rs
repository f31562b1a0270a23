//! Which SonarQube connection a project key (and optional server URL or organization) means, and
//! the user's own token there.

use entity::{connection, user_link};
use sea_orm::{DatabaseConnection, DbErr};
use secrecy::SecretString;

use crate::domain::types::ServerUrl;
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
