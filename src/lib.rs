//! sonar-slack: SonarQube quality-gate transitions delivered to Slack channels.

pub mod actors;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod demo;
pub mod domain;
pub mod http;
pub mod keys;
pub mod shutdown;
pub mod slack;
pub mod slash;
pub mod sonar;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod testing;
