//! Integration tests: the service over real HTTP, a real database, and the fake Slack.

mod crash;
mod delivery;
mod delivery_logs;
mod eviction;
mod forged;
mod helpers;
mod http_limits;
mod instances;
mod keys;
mod keys_live;
mod metrics;
mod operations;
mod process;
mod restart;
mod shutdown;
mod signature_oracle;
mod slack_app;
mod slack_commands;
mod slack_events;
mod slack_install;
mod slack_logs;
mod slack_reenable;
mod slack_story;
mod slack_world;
mod startup;
mod webhooks;
