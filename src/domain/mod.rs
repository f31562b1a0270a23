//! Pure domain logic: no I/O, no actors, no database. Everything here is deterministic and unit-tested.

pub mod command;
pub mod decision;
pub mod delivery;
pub mod install_state;
pub mod message;
pub mod metrics;
pub mod retry;
pub mod signature;
pub mod slack_signature;
pub mod types;
pub mod webhook;

#[cfg(test)]
mod fixture_tests;
#[cfg(test)]
mod proptests;
