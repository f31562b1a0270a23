//! One-time secrets kept only as SHA-256 digests: OAuth install states (bound to a browser cookie)
//! and account-linking tokens. Each can be used once, before it expires.

use chrono::{DateTime, Duration, Utc};
use entity::{link_token, oauth_state};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set,
};

use crate::crypto::digest;

/// Remembers an install `state` bound to the browser cookie `browser`.
pub async fn add_oauth_state(
    db: &impl ConnectionTrait,
    state: &str,
    browser: &str,
    ttl: Duration,
) -> Result<(), DbErr> {
    let now = Utc::now();
    // Old states are dropped as new installs begin.
    oauth_state::Entity::delete_many()
        .filter(oauth_state::Column::ExpiresAt.lt(now))
        .exec(db)
        .await?;
    oauth_state::ActiveModel {
        state_hash: Set(digest(state)),
        browser_hash: Set(digest(browser)),
        expires_at: Set(now + ttl),
        created_at: Set(now),
    }
    .insert(db)
    .await
    .map(|_| ())
}

/// Install states not yet used or expired.
pub async fn pending_states(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    use sea_orm::PaginatorTrait;
    oauth_state::Entity::find()
        .filter(oauth_state::Column::ExpiresAt.gte(Utc::now()))
        .count(db)
        .await
}

/// Why a `state` was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateProblem {
    /// Never issued, or already used.
    Unknown,
    Expired,
    /// Issued to another browser (or the cookie is gone).
    OtherBrowser,
}

/// Uses up an install `state`: it must exist, be unexpired and belong to this browser. It is
/// deleted whatever the verdict, so it can never be tried twice.
pub async fn take_oauth_state(
    db: &impl ConnectionTrait,
    state: &str,
    browser: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Result<(), StateProblem>, DbErr> {
    let hash = digest(state);
    let Some(row) = oauth_state::Entity::find_by_id(hash.clone())
        .one(db)
        .await?
    else {
        return Ok(Err(StateProblem::Unknown));
    };
    let deleted = oauth_state::Entity::delete_by_id(hash).exec(db).await?;
    if deleted.rows_affected != 1 {
        // Someone else used it between our read and our delete.
        return Ok(Err(StateProblem::Unknown));
    }
    if row.expires_at < now {
        return Ok(Err(StateProblem::Expired));
    }
    match browser {
        Some(b) if digest(b) == row.browser_hash => Ok(Ok(())),
        _ => Ok(Err(StateProblem::OtherBrowser)),
    }
}

/// Issues a linking token for a Slack user.
pub async fn add_link_token(
    db: &impl ConnectionTrait,
    token: &str,
    team: &str,
    user: &str,
    ttl: Duration,
) -> Result<(), DbErr> {
    let now = Utc::now();
    link_token::Entity::delete_many()
        .filter(link_token::Column::ExpiresAt.lt(now - Duration::days(1)))
        .exec(db)
        .await?;
    link_token::ActiveModel {
        token_hash: Set(digest(token)),
        team_id: Set(team.to_owned()),
        slack_user_id: Set(user.to_owned()),
        expires_at: Set(now + ttl),
        used_at: Set(None),
        created_at: Set(now),
    }
    .insert(db)
    .await
    .map(|_| ())
}

/// Why a linking token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkProblem {
    Unknown,
    Used,
    Expired,
}

/// The (team, user) a linking token was issued to, if it can still be used. Does not use it up.
pub async fn peek_link_token(
    db: &impl ConnectionTrait,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Result<link_token::Model, LinkProblem>, DbErr> {
    let row = link_token::Entity::find_by_id(digest(token))
        .one(db)
        .await?;
    Ok(match row {
        None => Err(LinkProblem::Unknown),
        Some(r) if r.used_at.is_some() => Err(LinkProblem::Used),
        Some(r) if r.expires_at < now => Err(LinkProblem::Expired),
        Some(r) => Ok(r),
    })
}

/// Uses up a linking token; false if it was used (or expired) meanwhile.
pub async fn use_link_token(
    db: &impl ConnectionTrait,
    token: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let done = link_token::Entity::update_many()
        .col_expr(link_token::Column::UsedAt, Expr::value(now))
        .filter(link_token::Column::TokenHash.eq(digest(token)))
        .filter(link_token::Column::UsedAt.is_null())
        .filter(link_token::Column::ExpiresAt.gte(now))
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}
