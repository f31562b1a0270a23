//! Slack Web API adapter: a client with a configurable base URL, so tests point it at a fake; and
//! the app manifest that creates the Slack app.

mod client;
mod conversations;
pub mod manifest;
pub mod oauth;
mod oauth_http;

pub use client::SlackClient;
pub use conversations::ChannelAccess;
pub use oauth::SlackOAuth;
