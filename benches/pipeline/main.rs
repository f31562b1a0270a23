//! End-to-end load bench (`cargo bench --bench pipeline`): the real service (the library's
//! `startup::Application` over real HTTP; the real binary for `scale`) on a fresh database, with
//! the fake Slack, through four scenarios: `ingest`, `latency`, `storm` and `scale`. Prints one
//! Markdown table. SQLite always; PostgreSQL too when `SONAR_SLACK_BENCH_POSTGRES_URL` is set.
//! Sizes and durations are knobs (see `pipeline/knobs.rs` and BENCHMARKS.md).

mod http1;
mod ingest;
mod knobs;
mod latency;
mod load;
mod scale;
mod stats;
mod storm;
mod table;
mod world;

use std::time::Instant;

use knobs::Knobs;
use table::Table;
use world::Backend;

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = stats::memory_total_gib();
    format!("{cores} cores ({cpu}), {memory:.0} GiB")
}

fn main() -> anyhow::Result<()> {
    let knobs = Knobs::from_env()?;
    let mut backends = Vec::new();
    if knobs.sqlite {
        backends.push(Backend::Sqlite);
    }
    if let Some(url) = &knobs.postgres {
        backends.push(Backend::Postgres(url.clone()));
    }
    println!(
        "pipeline bench on {}; load average at start {}",
        machine(),
        load_average()
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let began = Instant::now();
    let mut table = Table::default();
    runtime.block_on(async {
        for backend in &backends {
            for scenario in ["ingest", "latency", "storm", "scale"] {
                if !knobs.wants(scenario) {
                    continue;
                }
                eprintln!(
                    "{scenario} on {} (load {})…",
                    backend.name(),
                    load_average()
                );
                let t = Instant::now();
                let done = match scenario {
                    "ingest" => ingest::run(backend, &knobs, &mut table).await,
                    "latency" => latency::run(backend, &knobs, &mut table).await,
                    "storm" => storm::run(backend, &knobs, &mut table).await,
                    _ => scale::run(backend, &knobs, &mut table).await,
                };
                if let Err(e) = done {
                    table.add(
                        scenario,
                        backend.name(),
                        "scenario failed",
                        format!("{e:#}"),
                        Some(("runs", false)),
                    );
                }
                eprintln!(
                    "{scenario} on {} took {:.1} s (load {})",
                    backend.name(),
                    t.elapsed().as_secs_f64(),
                    load_average()
                );
            }
        }
    });
    println!();
    table.print();
    println!();
    println!(
        "whole run: {:.0} s; load average at the end {}",
        began.elapsed().as_secs_f64(),
        load_average()
    );
    Ok(())
}
