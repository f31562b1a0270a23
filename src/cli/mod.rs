//! The command line: `serve`, `migrate`, `demo`, `manifest`, and managing connections,
//! workspaces and subscriptions by hand (the Slack app does the last two from Slack), and
//! listing and retrying deliveries, and rotating the encryption key.

pub mod admin;
pub mod deliveries;
pub mod enable;
pub mod keys;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "sonar-slack",
    version,
    about = "SonarQube quality-gate transitions, delivered to Slack channels"
)]
pub struct Cli {
    /// A TOML file of settings (same names as the SONAR_SLACK_* variables, in lower case, without the prefix).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service: migrate the database, resume pending deliveries, serve HTTP.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Run the whole pipeline on real SonarQube webhook bodies against a built-in fake Slack.
    Demo,
    /// SonarQube servers and Cloud organizations allowed to send webhooks.
    #[command(subcommand)]
    Connections(ConnectionsCmd),
    /// Slack workspaces and their bot tokens.
    #[command(subcommand)]
    Workspaces(WorkspacesCmd),
    /// Which channels hear about which projects.
    #[command(subcommand)]
    Subscriptions(SubscriptionsCmd),
    /// Deliveries (one message to one channel): list them, retry failed ones.
    #[command(subcommand)]
    Deliveries(DeliveriesCmd),
    /// Encryption keys: which key seals the stored secrets; rotation to a new key.
    #[command(subcommand)]
    Keys(KeysCmd),
    /// Print the Slack app manifest (JSON) to create the app at https://api.slack.com/apps.
    Manifest {
        /// The base URL Slack will reach this service at, e.g. https://sonar-slack.example.com.
        /// Default: SONAR_SLACK_PUBLIC_URL.
        #[arg(long)]
        public_url: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCmd {
    /// Show the keys in use (by id, never the key) and how many stored secrets each one seals.
    Status,
    /// Re-seal every stored secret under a new key and retire the old one. With a key file, the new
    /// key is made and written there; with SONAR_SLACK_ENCRYPTION_KEY, put the new key there and the
    /// old one in SONAR_SLACK_PREVIOUS_ENCRYPTION_KEYS first. Safe to interrupt: run it again and it
    /// carries on. The running service picks up a rotated key file by itself.
    Rotate,
}

#[derive(Debug, Subcommand)]
pub enum ConnectionsCmd {
    /// Add a connection. Its webhooks must then carry `serverUrl` equal to URL.
    Add {
        /// The server's public base URL exactly as SonarQube sends it in `serverUrl` (https://sonarcloud.io on Cloud).
        #[arg(long)]
        server_url: String,
        /// The webhook secret set in SonarQube; webhooks must then be signed. Also read from SONAR_SLACK_WEBHOOK_SECRET.
        #[arg(long, env = "SONAR_SLACK_WEBHOOK_SECRET", hide_env_values = true)]
        secret: Option<String>,
        /// The SonarQube Cloud organization key, for Cloud connections.
        #[arg(long)]
        organization: Option<String>,
    },
    /// List connections (secrets are never shown).
    List,
    /// Change a connection's webhook secret or organization, keeping its subscriptions and history.
    Update {
        /// The connection's server URL, as given to `connections add`.
        #[arg(long)]
        server_url: String,
        /// The new webhook secret (given explicitly, so an exported variable never changes it by accident).
        #[arg(long, conflicts_with = "no_secret")]
        secret: Option<String>,
        /// Accept unsigned webhooks from now on.
        #[arg(long)]
        no_secret: bool,
        /// The SonarQube Cloud organization key.
        #[arg(long)]
        organization: Option<String>,
    },
    /// Remove a connection with its subscriptions and history.
    Remove {
        /// The connection's server URL, as given to `connections add`.
        #[arg(long)]
        server_url: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum WorkspacesCmd {
    /// Add a workspace, or replace its bot token and re-enable it.
    Add {
        /// The workspace id (T…).
        #[arg(long)]
        team_id: String,
        /// The bot token (xoxb-…). Also read from SONAR_SLACK_BOT_TOKEN, which keeps it out of shell history.
        #[arg(long, env = "SONAR_SLACK_BOT_TOKEN", hide_env_values = true)]
        bot_token: String,
        /// A name to show in listings.
        #[arg(long)]
        team_name: Option<String>,
    },
    /// List workspaces and their state (tokens are never shown).
    List,
    /// Remove a workspace and its subscriptions.
    Remove {
        /// The workspace id (T…).
        #[arg(long)]
        team_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum SubscriptionsCmd {
    /// Subscribe a channel to a project's main-branch gate (re-enables a disabled subscription).
    Add(RouteArgs),
    /// List subscriptions and their state.
    List,
    /// Remove a subscription.
    Remove(RouteArgs),
    /// Re-enable a disabled subscription, or without --project all of a channel's disabled ones
    /// (e.g. after inviting the app back to the channel).
    Enable(EnableArgs),
}

#[derive(Debug, Args)]
pub struct EnableArgs {
    /// The workspace id (T…).
    #[arg(long)]
    pub team_id: String,
    /// The channel id (C…, G…).
    #[arg(long)]
    pub channel_id: String,
    /// Only this project's subscription; without it, every disabled subscription of the channel.
    #[arg(long)]
    pub project: Option<String>,
    /// Which connection the project lives on; needed only with --project when there are several.
    #[arg(long, requires = "project")]
    pub server_url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DeliveryState {
    Pending,
    Sent,
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Sent => "sent",
            DeliveryState::Failed => "failed",
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum DeliveriesCmd {
    /// List deliveries, newest first, with their state, attempts and last error.
    List {
        /// Only deliveries in this state.
        #[arg(long)]
        state: Option<DeliveryState>,
        /// At most this many.
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..))]
        limit: u64,
    },
    /// Put failed deliveries back to pending; the running service sends them at its next sweep.
    Retry {
        /// The deliveries' ids (see `deliveries list --state failed`).
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        ids: Vec<i64>,
        /// Every failed delivery that can be retried.
        #[arg(long)]
        all: bool,
        /// Also retry deliveries that may already have been posted (Slack may show them twice).
        #[arg(long)]
        even_if_posted: bool,
    },
}

#[derive(Debug, Args)]
pub struct RouteArgs {
    /// The workspace id (T…).
    #[arg(long)]
    pub team_id: String,
    /// The channel id (C…, G…), from the channel's About panel.
    #[arg(long)]
    pub channel_id: String,
    /// The SonarQube project key.
    #[arg(long)]
    pub project: String,
    /// Which connection the project lives on; needed only when there are several.
    #[arg(long)]
    pub server_url: Option<String>,
}
