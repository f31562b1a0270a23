//! Slack Web API adapter: a client with a configurable base URL, so tests point it at a fake.

mod client;

pub use client::SlackClient;
