//! One-time secrets kept only as SHA-256 digests: used OAuth install nonces and account-linking
//! tokens. Each can be used once, before it expires.

use chrono::{DateTime, Duration, Utc};
use entity::{link_token, oauth_state};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set,
};

use crate::crypto::digest;

/// Records an install state's nonce as used; false if it was used before.
pub async fn use_install_nonce(
    db: &impl ConnectionTrait,
    nonce: &str,
    expires_at: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let now = Utc::now();
    // A used nonce only matters until its state expires.
    oauth_state::Entity::delete_many()
        .filter(oauth_state::Column::ExpiresAt.lt(now - Duration::minutes(1)))
        .exec(db)
        .await?;
    let row = oauth_state::ActiveModel {
        state_hash: Set(digest(nonce)),
        expires_at: Set(expires_at),
        created_at: Set(now),
    };
    let inserted = oauth_state::Entity::insert(row)
        .on_conflict(
            OnConflict::column(oauth_state::Column::StateHash)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(inserted == 1)
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
