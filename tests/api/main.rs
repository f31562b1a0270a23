//! Integration tests: the service over real HTTP, a real database, and the fake Slack.

mod delivery;
mod helpers;
mod instances;
mod restart;
mod signature_oracle;
mod startup;
mod webhooks;
