//! What `/sonarqube …` does, once the request is verified: finds the workspace, parses the text
//! with [`crate::domain::command`], runs the subcommand and words the answer (mrkdwn). The HTTP
//! handler decides whether the answer goes back inline or through `response_url`.

mod account;
mod list;
mod outcome;
mod resolve;
mod subscribe;
mod unsubscribe;

use crate::domain::command::{self, Command};
use crate::domain::message::escape_mrkdwn;
use crate::domain::types::installation_keys;
use crate::http::AppState;
use crate::store::catalog;

/// Who ran the command, where.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub team_id: String,
    pub enterprise_id: Option<String>,
    pub is_enterprise_install: bool,
    pub user_id: String,
    pub channel_id: String,
    pub text: String,
}

/// The answer: `public` is shown to the channel, `private` only to the user who ran the command.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reply {
    pub public: Option<String>,
    pub private: Option<String>,
}

impl Reply {
    pub fn private(text: impl Into<String>) -> Self {
        Self {
            public: None,
            private: Some(text.into()),
        }
    }
}

/// Longest answer part, in characters: well within Slack's message limits, and readable.
const MAX_REPLY_CHARS: usize = 3500;

impl Reply {
    /// Each part cut at a line boundary to [`MAX_REPLY_CHARS`], saying how much was left out.
    fn fitted(self) -> Self {
        Self {
            public: self.public.map(|t| fit(&t, MAX_REPLY_CHARS)),
            private: self.private.map(|t| fit(&t, MAX_REPLY_CHARS)),
        }
    }
}

fn fit(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let lines: Vec<&str> = text.lines().collect();
    let mut out = String::new();
    let mut used = 0;
    for (i, line) in lines.iter().enumerate() {
        let len = line.chars().count() + 1;
        if used + len > max - 60 {
            let left = lines.len() - i;
            if out.is_empty() {
                out = line.chars().take(max - 60).collect();
                out.push('…');
            }
            out.push_str(&format!(
                "\n… and {left} more line{} not shown",
                if left == 1 { "" } else { "s" }
            ));
            return out;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(line);
        used += len;
    }
    out
}

/// Runs one slash command. Never fails: every problem becomes a message saying what to do.
pub async fn run(state: &AppState, inv: &Invocation) -> Reply {
    run_unfitted(state, inv).await.fitted()
}

async fn run_unfitted(state: &AppState, inv: &Invocation) -> Reply {
    let cmd = &state.app.command;
    let parsed = command::parse(&inv.text);
    // Only the subcommand's name: the text may hold anything pasted, tokens included.
    let subcommand = parsed.as_ref().map_or("invalid", Command::name);
    tracing::info!(team = %inv.team_id, user = %inv.user_id, channel = %inv.channel_id, subcommand, "slash command");
    let parsed = match parsed {
        Ok(c) => c,
        Err(e) => {
            return Reply::private(format!(
                "{}\n\n{}",
                escape_mrkdwn(&e.to_string()),
                command::help_text(cmd)
            ));
        }
    };
    if matches!(parsed, Command::Help) {
        return Reply::private(command::help_text(cmd));
    }
    if let Command::Unknown { word } = &parsed {
        return Reply::private(format!(
            "I don't know `{}`. Here is what I can do:\n{}",
            escape_mrkdwn(word),
            command::help_text(cmd)
        ));
    }
    let team = match installation(state, inv).await {
        Ok(team) => team,
        Err(reply) => return reply,
    };
    let ctx = Ctx { state, inv, team };
    match parsed {
        Command::Connect => account::connect(&ctx).await,
        Command::Disconnect { target } => account::disconnect(&ctx, target.as_deref()).await,
        Command::List => list::list(&ctx).await,
        Command::Subscribe { keys, on } => subscribe::subscribe(&ctx, &keys, on.as_deref()).await,
        Command::Unsubscribe { keys, on } => {
            unsubscribe::unsubscribe(&ctx, &keys, on.as_deref()).await
        }
        Command::Help | Command::Unknown { .. } => Reply::private(command::help_text(cmd)),
    }
}

/// Everything a subcommand works with.
pub(crate) struct Ctx<'a> {
    pub state: &'a AppState,
    pub inv: &'a Invocation,
    /// The installation's key: the team, or the enterprise for an organization-wide install.
    pub team: String,
}

impl Ctx<'_> {
    pub fn command(&self) -> &str {
        &self.state.app.command
    }
}

/// The workspace row this command belongs to, or the answer that says it is not installed.
async fn installation(state: &AppState, inv: &Invocation) -> Result<String, Reply> {
    let install_link = format!("{}/slack/install", state.app.public_base);
    let keys = installation_keys(
        Some(&inv.team_id),
        inv.enterprise_id.as_deref(),
        inv.is_enterprise_install,
    );
    for key in keys {
        match catalog::workspace(&state.db, key).await {
            Ok(Some(ws)) => return Ok(ws.team_id),
            Ok(None) => {}
            Err(e) => return Err(db_trouble(e)),
        }
    }
    Err(Reply::private(format!(
        "sonar-slack is not installed in this workspace yet. A workspace admin can install it at {install_link}"
    )))
}

/// The answer when the database fails; the details go to the log only.
pub(crate) fn db_trouble(e: sea_orm::DbErr) -> Reply {
    tracing::error!(error = %e, "database error in a slash command");
    Reply::private(
        "Something went wrong on sonar-slack's side (its database did not answer). Nothing was changed; try again in a minute.",
    )
}

#[cfg(test)]
mod tests {
    use super::fit;

    #[test]
    fn long_answers_are_cut_at_lines_and_say_so() {
        let text: Vec<String> = (0..500)
            .map(|i| format!("• `project-{i}` on https://sonar – active"))
            .collect();
        let cut = fit(&text.join("\n"), 3500);
        assert!(cut.chars().count() <= 3500, "{}", cut.len());
        assert!(cut.starts_with("• `project-0`"));
        assert!(cut.ends_with("more lines not shown"), "{cut}");
        assert_eq!(fit("short", 3500), "short");
        let one = "x".repeat(5000);
        let cut = fit(&one, 3500);
        assert!(cut.chars().count() <= 3500 && cut.contains('…'));
    }
}
