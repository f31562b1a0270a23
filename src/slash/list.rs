//! `list`: this channel's subscriptions with their state (active, or disabled and why).

use super::{Ctx, Reply, db_trouble};
use crate::domain::message::escape_mrkdwn;
use crate::store::{catalog, status};

pub async fn list(ctx: &Ctx<'_>) -> Reply {
    let db = &ctx.state.db;
    let subs = match catalog::channel_subscriptions(db, &ctx.team, &ctx.inv.channel_id).await {
        Ok(s) => s,
        Err(e) => return db_trouble(e),
    };
    let connections = match catalog::connections(db).await {
        Ok(c) => c,
        Err(e) => return db_trouble(e),
    };
    let workspace = match catalog::workspace(db, &ctx.team).await {
        Ok(w) => w,
        Err(e) => return db_trouble(e),
    };
    if subs.is_empty() {
        return Reply::private(format!(
            "This channel has no subscriptions. `{} subscribe &lt;project_key&gt;` adds one.",
            ctx.command()
        ));
    }
    let mut lines = vec![format!(
        "This channel is subscribed to {} project{}:",
        subs.len(),
        if subs.len() == 1 { "" } else { "s" }
    )];
    for s in &subs {
        let server = connections
            .iter()
            .find(|c| c.id == s.connection_id)
            .map(|c| c.server_url.as_str())
            .unwrap_or("an unknown server");
        let state = if s.status == status::ACTIVE {
            "active".to_owned()
        } else {
            format!(
                "*disabled*: {}",
                escape_mrkdwn(s.disabled_reason.as_deref().unwrap_or("no reason recorded"))
            )
        };
        let by = s
            .created_by
            .as_deref()
            .filter(|u| u.starts_with('U') || u.starts_with('W'))
            .map(|u| format!(", added by <@{u}>"))
            .unwrap_or_default();
        lines.push(format!(
            "• `{}` on {} – {state}{by}",
            escape_mrkdwn(&s.project_key),
            escape_mrkdwn(server)
        ));
    }
    if let Some(ws) = workspace
        && ws.status != status::ACTIVE
    {
        lines.push(format!(
            "Nothing is posted while the app is disabled in this workspace: {}",
            escape_mrkdwn(
                ws.disabled_reason
                    .as_deref()
                    .unwrap_or("no reason recorded")
            )
        ));
    }
    Reply::private(lines.join("\n"))
}
