//! Slack Web API adapter: a client with a configurable base URL, so tests point it at a fake; and
//! the app manifest that creates the Slack app.

mod client;
pub mod manifest;

pub use client::SlackClient;
