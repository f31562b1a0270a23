//! SonarQube Web API adapter: who a user token is, whether it may Browse a project, and the
//! project's current main-branch quality gate.

mod client;
mod error;
mod model;
#[cfg(test)]
mod tests;

pub use client::SonarClient;
pub use error::SonarError;
pub use model::{Access, RemoteGate, SonarUser};
