//! Every sealed secret in the database, where it lives, and replacing one only if it is unchanged
//! (for key rotation and the start-up key check).

use entity::{connection, user_link, workspace};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};

use super::catalog::{bot_token_context, refresh_token_context, webhook_secret_context};
use super::links::user_token_context;

/// Where a sealed value is stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    BotToken {
        team: String,
    },
    RefreshToken {
        team: String,
    },
    WebhookSecret {
        connection: i64,
        server_url: String,
    },
    UserToken {
        link: i64,
        team: String,
        user: String,
        connection: i64,
    },
}

impl Place {
    /// The associated data the value is sealed with.
    pub fn context(&self) -> String {
        match self {
            Place::BotToken { team } => bot_token_context(team),
            Place::RefreshToken { team } => refresh_token_context(team),
            Place::WebhookSecret { server_url, .. } => webhook_secret_context(server_url),
            Place::UserToken {
                team,
                user,
                connection,
                ..
            } => user_token_context(team, user, *connection),
        }
    }

    /// What it is, for people (never the value).
    pub fn describe(&self) -> String {
        match self {
            Place::BotToken { team } => format!("the bot token of workspace {team}"),
            Place::RefreshToken { team } => format!("the refresh token of workspace {team}"),
            Place::WebhookSecret { server_url, .. } => {
                format!("the webhook secret of connection {server_url}")
            }
            Place::UserToken { team, user, .. } => {
                format!("the SonarQube token linked by Slack user {user} in {team}")
            }
        }
    }

    /// The kind, for counts.
    pub fn kind(&self) -> &'static str {
        match self {
            Place::BotToken { .. } => "bot tokens",
            Place::RefreshToken { .. } => "refresh tokens",
            Place::WebhookSecret { .. } => "webhook secrets",
            Place::UserToken { .. } => "linked-account tokens",
        }
    }
}

/// One stored sealed value.
#[derive(Clone, Debug)]
pub struct Sealed {
    pub place: Place,
    pub value: String,
}

/// Every sealed value stored (an uninstalled workspace's erased, empty token is none).
pub async fn all(db: &impl ConnectionTrait) -> Result<Vec<Sealed>, DbErr> {
    let mut out = Vec::new();
    let workspaces = workspace::Entity::find()
        .order_by_asc(workspace::Column::TeamId)
        .all(db)
        .await?;
    for w in workspaces {
        if !w.bot_token_sealed.is_empty() {
            out.push(Sealed {
                place: Place::BotToken {
                    team: w.team_id.clone(),
                },
                value: w.bot_token_sealed,
            });
        }
        if let Some(refresh) = w.refresh_token_sealed.filter(|r| !r.is_empty()) {
            out.push(Sealed {
                place: Place::RefreshToken { team: w.team_id },
                value: refresh,
            });
        }
    }
    let connections = connection::Entity::find()
        .order_by_asc(connection::Column::Id)
        .all(db)
        .await?;
    for c in connections {
        if let Some(secret) = c.secret_sealed {
            out.push(Sealed {
                place: Place::WebhookSecret {
                    connection: c.id,
                    server_url: c.server_url,
                },
                value: secret,
            });
        }
    }
    let links = user_link::Entity::find()
        .order_by_asc(user_link::Column::Id)
        .all(db)
        .await?;
    for l in links {
        out.push(Sealed {
            place: Place::UserToken {
                link: l.id,
                team: l.team_id,
                user: l.slack_user_id,
                connection: l.connection_id,
            },
            value: l.token_sealed,
        });
    }
    Ok(out)
}

/// Stores `new` at `place` only if it still holds `old`. Returns whether it did (false: the value
/// changed meanwhile, e.g. a token was refreshed, and must be read again).
pub async fn replace(
    db: &impl ConnectionTrait,
    place: &Place,
    old: &str,
    new: &str,
) -> Result<bool, DbErr> {
    let done = match place {
        Place::BotToken { team } => {
            use workspace::Column as C;
            workspace::Entity::update_many()
                .col_expr(C::BotTokenSealed, Expr::value(new))
                .filter(C::TeamId.eq(team.as_str()))
                .filter(C::BotTokenSealed.eq(old))
                .exec(db)
                .await?
        }
        Place::RefreshToken { team } => {
            use workspace::Column as C;
            workspace::Entity::update_many()
                .col_expr(C::RefreshTokenSealed, Expr::value(new))
                .filter(C::TeamId.eq(team.as_str()))
                .filter(C::RefreshTokenSealed.eq(old))
                .exec(db)
                .await?
        }
        Place::WebhookSecret { connection, .. } => {
            use connection::Column as C;
            connection::Entity::update_many()
                .col_expr(C::SecretSealed, Expr::value(new))
                .filter(C::Id.eq(*connection))
                .filter(C::SecretSealed.eq(old))
                .exec(db)
                .await?
        }
        Place::UserToken { link, .. } => {
            use user_link::Column as C;
            user_link::Entity::update_many()
                .col_expr(C::TokenSealed, Expr::value(new))
                .filter(C::Id.eq(*link))
                .filter(C::TokenSealed.eq(old))
                .exec(db)
                .await?
        }
    };
    Ok(done.rows_affected == 1)
}
