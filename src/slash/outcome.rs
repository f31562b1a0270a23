//! Per-key outcomes of `subscribe`/`unsubscribe` and how they become one answer: what concerns
//! the channel is said there, the rest only to the user.

use super::{Ctx, Reply};
use crate::domain::types::ProjectKey;

/// One key's outcome.
pub(super) enum Outcome {
    /// Said to the channel.
    Public(String),
    /// Said to the user only.
    Private(String),
}

/// Keys per command: each costs SonarQube calls, and the answer must stay readable.
const MAX_KEYS: usize = 20;

pub(super) fn too_many(ctx: &Ctx<'_>, sub: &str, keys: &[ProjectKey]) -> Option<Reply> {
    (keys.len() > MAX_KEYS).then(|| {
        Reply::private(format!(
            "That is {} projects; `{} {sub}` takes at most {MAX_KEYS} at a time. Split them over several commands.",
            keys.len(),
            ctx.command()
        ))
    })
}

/// Channel-worthy lines go to the channel; the rest to the user.
pub(super) fn gather(outcomes: Vec<Outcome>) -> Reply {
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
