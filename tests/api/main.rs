//! Integration tests: the service over real HTTP, a real database, and the fake Slack.

mod delivery;
mod delivery_logs;
mod helpers;
mod instances;
mod metrics;
mod restart;
mod signature_oracle;
mod slack_app;
mod slack_commands;
mod slack_events;
mod slack_install;
mod slack_logs;
mod slack_story;
mod slack_world;
mod startup;
mod webhooks;
