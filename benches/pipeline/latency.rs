//! Scenario `latency`: transitions at a steady rate spread evenly over many channels (each channel
//! gets one every `channels / rate` seconds, within Slack's pace), timed from the webhook's 2xx to
//! the fake Slack's receipt of the message.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use sonar_slack::testing::app::SpawnedApp;
use sonar_slack::testing::fake_slack::{FakeSlack, FakeSlackConfig};

use super::knobs::Knobs;
use super::load::{self, Bodies, Request};
use super::stats::{Spread, ms};
use super::table::Table;
use super::world::{self, Backend, BenchDb, Plan};

const TARGET_P99: Duration = Duration::from_millis(10);

pub async fn run(backend: &Backend, knobs: &Knobs, table: &mut Table) -> anyhow::Result<()> {
    let db = BenchDb::create(backend).await?;
    let fake = FakeSlack::start(FakeSlackConfig::default())?;
    let settings = world::settings(&db, &fake);
    let channels = knobs.latency_channels.max(1);
    // Project `p` is subscribed by channel `p` alone.
    let plan = Plan {
        projects: channels,
        channels,
        subscriptions: channels,
        passed: true,
    };
    world::seed(&settings, &fake, &plan).await?;
    let app = SpawnedApp::start(settings)?;
    let base = app.base_url();

    let rate = knobs.latency_rate.max(1);
    let total = (rate as f64 * knobs.latency_for.as_secs_f64()) as usize;
    let bodies = Arc::new(Bodies::new());
    // Transition `n` goes to project `n % channels`; each round flips every gate once more.
    let make = Arc::new(move |n: usize| {
        let failed = (n / channels).is_multiple_of(2);
        Request::Webhook(bodies.webhook(failed, n % channels, n + 1))
    });
    let answers = load::at_rate(&base, rate, total, make).await;
    let acked = answers.iter().filter(|a| a.ok).count();
    let wait = Duration::from_secs(60);
    let delivered = fake.wait_for_messages(acked, wait).await;
    let messages = fake.messages();
    app.stop().await;
    fake.stop();
    db.remove().await;
    if let Err(e) = delivered {
        eprintln!(
            "latency: not every message arrived: {}",
            e.chars().take(300).collect::<String>()
        );
    }

    // The k-th message of channel c answers the k-th transition of project c.
    let mut receipts: HashMap<String, Vec<chrono::DateTime<chrono::Utc>>> = HashMap::new();
    for m in &messages {
        receipts
            .entry(m.channel.clone())
            .or_default()
            .push(m.received_at);
    }
    let mut early = 0;
    let mut spans = Vec::with_capacity(acked);
    for a in answers.iter().filter(|a| a.ok) {
        let channel = world::channel_id(a.n % channels);
        let Some(at) = receipts.get(&channel).and_then(|r| r.get(a.n / channels)) else {
            continue;
        };
        match (*at - a.at).to_std() {
            Ok(d) => spans.push(d),
            // Slack had it before the client had read the 2xx: the post left right after the commit.
            Err(_) => {
                early += 1;
                spans.push(Duration::ZERO);
            }
        }
    }
    if std::env::var("BENCH_DEBUG").is_ok() {
        let mut by_round: Vec<Vec<Duration>> = Vec::new();
        for (a, d) in answers.iter().filter(|a| a.ok).zip(&spans) {
            let r = a.n / channels;
            if by_round.len() <= r {
                by_round.resize(r + 1, Vec::new());
            }
            by_round[r].push(*d);
        }
        for (r, v) in by_round.into_iter().enumerate() {
            let s = Spread::new(v);
            eprintln!(
                "round {r}: p50 {} p99 {} max {}",
                ms(s.at(0.5)),
                ms(s.at(0.99)),
                ms(s.max())
            );
        }
    }
    let spread = Spread::new(spans);
    let name = backend.name();
    let label = format!(
        "{rate}/s over {channels} channels for {:.0} s",
        knobs.latency_for.as_secs_f64()
    );
    table.add(
        "latency",
        name,
        format!("2xx → Slack p50 / p99 / max ({label})"),
        format!(
            "{} / {} / {}",
            ms(spread.at(0.5)),
            ms(spread.at(0.99)),
            ms(spread.max())
        ),
        Some((
            "p99 ≤ 10 ms",
            spread.at(0.99) <= TARGET_P99 && spread.len() == total,
        )),
    );
    let webhook = Spread::new(answers.iter().map(|a| a.latency).collect());
    table.add(
        "latency",
        name,
        "delivered / sent; webhook response p99",
        format!(
            "{} / {total} ({early} before the 2xx); {}",
            spread.len(),
            ms(webhook.at(0.99))
        ),
        None,
    );
    Ok(())
}
