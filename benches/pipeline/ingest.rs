//! Scenario `ingest`: signed webhooks from many concurrent connections for a fixed time, against the
//! same run's bare `GET /healthz` ceiling. Every webhook is a new analysis with an unchanged gate:
//! an inbox row and a state update, committed before the answer.

use std::sync::Arc;

use sonar_slack::testing::app::SpawnedApp;
use sonar_slack::testing::fake_slack::{FakeSlack, FakeSlackConfig};

use super::knobs::Knobs;
use super::load::{self, Bodies, Request, Run};
use super::stats::{Spread, ms};
use super::table::Table;
use super::world::{self, Backend, BenchDb, Plan};

const TARGET_RATE: f64 = 10_000.0;
const TARGET_SHARE: f64 = 0.30;

pub async fn run(backend: &Backend, knobs: &Knobs, table: &mut Table) -> anyhow::Result<()> {
    let db = BenchDb::create(backend).await?;
    let fake = FakeSlack::start(FakeSlackConfig::default())?;
    let settings = world::settings(&db, &fake);
    let projects = knobs.ingest_projects.max(1);
    let plan = Plan {
        projects,
        channels: projects,
        subscriptions: projects,
        passed: true,
    };
    world::seed(&settings, &fake, &plan).await?;
    let app = SpawnedApp::start(settings)?;
    let base = app.base_url();

    let health = Arc::new(|_| Request::Health);
    let ceiling = load::closed_loop(&base, knobs.connections, knobs.ceiling_for, health).await;
    let bodies = Arc::new(Bodies::new());
    let make =
        Arc::new(move |n: usize| Request::Webhook(bodies.webhook(false, n % projects, n + 1)));
    let ingest = load::closed_loop(&base, knobs.connections, knobs.ingest_for, make).await;
    app.stop().await;
    fake.stop();
    db.remove().await;

    let (ceiling_rate, _) = rate(&ceiling);
    let (ingest_rate, refused) = rate(&ingest);
    let db_name = backend.name();
    let c = knobs.connections;
    table.add(
        "ingest",
        db_name,
        format!("`GET /healthz` ceiling, {c} connections"),
        format!("{ceiling_rate:.0} req/s"),
        None,
    );
    table.add(
        "ingest",
        db_name,
        format!("acknowledged webhooks/s, {c} connections, {projects} projects"),
        format!("{ingest_rate:.0}/s ({refused} refused)"),
        Some(("≥ 10,000/s", ingest_rate >= TARGET_RATE && refused == 0)),
    );
    let share = ingest_rate / ceiling_rate.max(1.0);
    table.add(
        "ingest",
        db_name,
        "ingest as a share of the ceiling",
        format!("{:.0} %", share * 100.0),
        Some(("≥ 30 %", share >= TARGET_SHARE)),
    );
    let spread = Spread::new(ingest.answers.iter().map(|a| a.latency).collect());
    table.add(
        "ingest",
        db_name,
        "webhook response time p50 / p99",
        format!("{} / {}", ms(spread.at(0.5)), ms(spread.at(0.99))),
        None,
    );
    Ok(())
}

/// 2xx answers per second over the run, and how many answers were not 2xx.
fn rate(run: &Run) -> (f64, usize) {
    let ok = run.answers.iter().filter(|a| a.ok).count();
    (
        ok as f64 / run.elapsed.as_secs_f64(),
        run.answers.len() - ok,
    )
}
