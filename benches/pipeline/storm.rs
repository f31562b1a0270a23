//! Scenario `storm`: thousands of transitions into a few channels at once. The fake Slack enforces
//! its per-channel limit (no burst) and the service paces at the same rate, so the run can take no
//! less than `(messages per channel - 1) / rate`.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sonar_slack::testing::app::SpawnedApp;
use sonar_slack::testing::fake_slack::{FakeSlack, FakeSlackConfig};

use super::knobs::Knobs;
use super::load::{self, Bodies, Request};
use super::table::Table;
use super::world::{self, Backend, BenchDb, Plan};

/// The fake accepts a post this share of an interval early, as the default fake does (150 ms of 1 s).
const TOLERANCE: f64 = 0.15;

pub async fn run(backend: &Backend, knobs: &Knobs, table: &mut Table) -> anyhow::Result<()> {
    let db = BenchDb::create(backend).await?;
    let per_second = knobs.storm_per_second.max(1);
    let interval = Duration::from_secs(1) / per_second;
    let fake = FakeSlack::start(FakeSlackConfig {
        per_channel_interval: interval,
        tolerance: interval.mul_f64(TOLERANCE),
        retry_after_secs: 1,
    })?;
    let mut settings = world::settings(&db, &fake);
    settings.slack_channel_per_second = per_second;
    settings.slack_channel_burst = 1;
    let (transitions, channels) = (knobs.storm_transitions, knobs.storm_channels.max(1));
    // Project `p` (one transition each) is subscribed by channel `p % channels`.
    let plan = Plan {
        projects: transitions,
        channels,
        subscriptions: transitions,
        passed: true,
    };
    world::seed(&settings, &fake, &plan).await?;
    let app = SpawnedApp::start(settings)?;
    let base = app.base_url();

    let bodies = Arc::new(Bodies::new());
    let (started, wall) = (Instant::now(), chrono::Utc::now());
    let requests = (0..transitions).map(|p| Request::Webhook(bodies.webhook(true, p, p + 1)));
    let answers = load::all(&base, knobs.connections, requests).await;
    let ingested = started.elapsed();
    let acked = answers.iter().filter(|a| a.ok).count();
    let per_channel = transitions.div_ceil(channels);
    let minimum = interval * (per_channel.saturating_sub(1) as u32);
    let arrived = fake
        .wait_for_messages(acked, minimum * 3 + Duration::from_secs(60))
        .await;
    // Anything still under way would show up as a duplicate: give it a moment to arrive.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let messages = fake.messages();
    // From the first webhook sent to the last message received.
    let last = messages.iter().map(|m| m.received_at).max().unwrap_or(wall);
    let total = (last - wall).to_std().unwrap_or_default();
    let rate_limited = fake.attempts().iter().filter(|a| a.status == 429).count();
    app.stop().await;
    fake.stop();
    db.remove().await;
    if let Err(e) = arrived {
        eprintln!(
            "storm: not every message arrived: {}",
            e.chars().take(300).collect::<String>()
        );
    }

    let distinct: HashSet<(&str, &str)> = messages
        .iter()
        .map(|m| (m.channel.as_str(), m.text.as_str()))
        .collect();
    let lost = acked.saturating_sub(distinct.len());
    let duplicates = messages.len() - distinct.len();
    let name = backend.name();
    table.add(
        "storm",
        name,
        format!(
            "429s from Slack ({transitions} transitions, {channels} channels, {per_second}/s each)"
        ),
        rate_limited.to_string(),
        Some(("0", rate_limited == 0)),
    );
    table.add(
        "storm",
        name,
        "messages lost / duplicated",
        format!(
            "{lost} / {duplicates} (of {acked} acknowledged, {} refused)",
            transitions - acked
        ),
        Some((
            "0 / 0",
            lost == 0 && duplicates == 0 && acked == transitions,
        )),
    );
    let share = total.as_secs_f64() / minimum.as_secs_f64().max(1e-9);
    table.add(
        "storm",
        name,
        "total time vs the limit's minimum",
        format!(
            "{:.2} s = {:.1} % of {:.2} s (ingest done at {:.2} s)",
            total.as_secs_f64(),
            share * 100.0,
            minimum.as_secs_f64(),
            ingested.as_secs_f64()
        ),
        Some(("≤ 105 %", share <= 1.05)),
    );
    Ok(())
}
