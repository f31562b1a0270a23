//! Scenario `scale`: a database of many projects, channels and subscriptions, served by the real
//! `sonar-slack serve` binary in a child process so its memory is its own. Measures the time to
//! start (until `/readyz` answers 200), peak resident memory while a webhook reaches every project
//! (and a transition reaches the chosen share of them, so their channels get actors), and resident
//! memory once the idle actors are evicted.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use secrecy::ExposeSecret;
use sonar_slack::testing::fake_slack::{FakeSlack, FakeSlackConfig};

use super::knobs::Knobs;
use super::load::{self, Bodies, Request};
use super::stats::memory_mib;
use super::table::Table;
use super::world::{self, Backend, BenchDb, Plan};

/// 400 MB (10^6 bytes), in MiB.
const TARGET_RSS_MIB: f64 = 400e6 / 1_048_576.0;
const TARGET_START: Duration = Duration::from_secs(5);

/// The service as a child process, killed when dropped.
struct Service {
    child: Child,
    base: String,
}

impl Service {
    fn start(url: &str, slack: &str, idle_secs: u64) -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_sonar-slack"));
        // Only our settings: the service refuses unknown SONAR_SLACK_* variables.
        for (name, _) in std::env::vars() {
            if name.starts_with("SONAR_SLACK_") {
                command.env_remove(name);
            }
        }
        command
            .arg("serve")
            .env("SONAR_SLACK_DATABASE_URL", url)
            .env("SONAR_SLACK_LISTEN", format!("127.0.0.1:{port}"))
            .env("SONAR_SLACK_SLACK_API_URL", slack)
            .env("SONAR_SLACK_ENCRYPTION_KEY", world::key().expose_secret())
            .env("SONAR_SLACK_SLACK_WORKSPACE_PER_MINUTE", "1000000")
            .env("SONAR_SLACK_ACTOR_IDLE_SECS", idle_secs.to_string())
            // Every decision is logged at info; the in-process scenarios log nothing either.
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        Ok(Self {
            child: command.spawn()?,
            base: format!("http://127.0.0.1:{port}"),
        })
    }

    fn pid(&self) -> String {
        self.child.id().to_string()
    }

    async fn ready(&self, client: &reqwest::Client) -> Option<serde_json::Value> {
        let res = client
            .get(format!("{}/readyz", self.base))
            .send()
            .await
            .ok()?;
        if !res.status().is_success() {
            return None;
        }
        res.json().await.ok()
    }

    /// Live (project, channel) actors, from `/readyz`.
    async fn actors(&self, client: &reqwest::Client) -> Option<(u64, u64)> {
        let body = self.ready(client).await?;
        Some((
            body["actors"]["projects"].as_u64()?,
            body["actors"]["channels"].as_u64()?,
        ))
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub async fn run(backend: &Backend, knobs: &Knobs, table: &mut Table) -> anyhow::Result<()> {
    let (projects, channels) = (knobs.scale_projects.max(1), knobs.scale_channels.max(1));
    let subscriptions = knobs.scale_subscriptions.min(projects * channels);
    let notify = knobs.scale_notify.min(projects);
    let db = BenchDb::create(backend).await?;
    let fake = FakeSlack::start(FakeSlackConfig::default())?;
    fake.record_without_bodies();
    let settings = world::settings(&db, &fake);
    let plan = Plan {
        projects,
        channels,
        subscriptions,
        passed: true,
    };
    let seeding = Instant::now();
    world::seed(&settings, &fake, &plan).await?;
    eprintln!(
        "scale: seeded {projects} projects, {channels} channels, {subscriptions} subscriptions in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );

    let client = reqwest::Client::new();
    let started = Instant::now();
    let service = Service::start(&db.url, &fake.api_url(), knobs.scale_idle_secs)?;
    while service.ready(&client).await.is_none() {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(120),
            "the service did not start"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let start_time = started.elapsed();
    let pid = service.pid();
    let rss_started = memory_mib(&pid, "VmRSS");

    // A webhook for every project: a transition for the first `notify`, an unchanged gate else.
    let bodies = Bodies::new();
    let requests = (0..projects).map(|p| Request::Webhook(bodies.webhook(p < notify, p, p + 1)));
    let activation = Instant::now();
    let answers = load::all(&service.base, knobs.connections, requests).await;
    let refused = answers.iter().filter(|a| !a.ok).count();
    let expected = (0..subscriptions).filter(|i| i % projects < notify).count();
    let delivered = fake
        .wait_for_count(expected, Duration::from_secs(600))
        .await
        .is_ok();
    let busiest = service.actors(&client).await.unwrap_or_default();
    let rss_peak = memory_mib(&pid, "VmHWM");
    let rss_busy = memory_mib(&pid, "VmRSS");
    eprintln!(
        "scale: {projects} webhooks ({refused} refused), {expected} messages delivered: {delivered}, in {:.1} s; actors {busiest:?}",
        activation.elapsed().as_secs_f64()
    );

    let idle = Instant::now();
    let limit = Duration::from_secs(knobs.scale_idle_secs * 4 + 60);
    let evicted = loop {
        match service.actors(&client).await {
            Some((0, 0)) => break true,
            _ if idle.elapsed() > limit => break false,
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    let rss_evicted = memory_mib(&pid, "VmRSS");
    drop(service);
    fake.stop();
    db.remove().await;

    let name = backend.name();
    let size = format!("{projects} projects, {channels} channels, {subscriptions} subscriptions");
    table.add(
        "scale",
        name,
        format!("time to start ({size})"),
        format!("{:.2} s", start_time.as_secs_f64()),
        Some(("≤ 5 s", start_time <= TARGET_START)),
    );
    table.add(
        "scale",
        name,
        format!(
            "peak RSS ({} project + {} channel actors; {notify} transitions)",
            busiest.0, busiest.1
        ),
        format!(
            "{rss_peak:.0} MiB (at start {rss_started:.0} MiB, after the run {rss_busy:.0} MiB)"
        ),
        Some((
            "≤ 400 MB (381 MiB)",
            rss_peak <= TARGET_RSS_MIB && delivered && refused == 0,
        )),
    );
    table.add(
        "scale",
        name,
        format!(
            "RSS after idle actors are evicted ({} s idle)",
            knobs.scale_idle_secs
        ),
        if evicted {
            format!(
                "{rss_evicted:.0} MiB after {:.1} s",
                idle.elapsed().as_secs_f64()
            )
        } else {
            format!("{rss_evicted:.0} MiB; actors not all evicted")
        },
        Some(("all evicted", evicted)),
    );
    Ok(())
}
