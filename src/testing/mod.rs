//! Test support shared by tests, the demo and the benches: fakes that speak real HTTP, and the
//! service run in its own thread.

pub mod app;
pub mod fake_slack;
pub mod fake_sonar;
pub mod server;
pub mod slack_side;
