//! Measures: percentiles of a set of durations, and a process's resident memory from `/proc`.

use std::time::Duration;

/// Sorted durations, for percentiles.
pub struct Spread(Vec<Duration>);

impl Spread {
    pub fn new(mut values: Vec<Duration>) -> Self {
        values.sort_unstable();
        Self(values)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The `p`-quantile (nearest rank), or zero when empty.
    pub fn at(&self, p: f64) -> Duration {
        if self.0.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((self.0.len() as f64) * p).ceil() as usize;
        self.0[rank.clamp(1, self.0.len()) - 1]
    }

    pub fn max(&self) -> Duration {
        self.0.last().copied().unwrap_or_default()
    }
}

pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// A field of `/proc/<pid>/status` in MiB (`VmRSS`, `VmHWM`).
pub fn memory_mib(pid: &str, field: &str) -> f64 {
    memory_field(&format!("/proc/{pid}/status"), field) / 1024.0
}

/// The machine's memory in GiB.
pub fn memory_total_gib() -> f64 {
    memory_field("/proc/meminfo", "MemTotal") / 1024.0 / 1024.0
}

fn memory_field(path: &str, field: &str) -> f64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .unwrap_or(0.0)
}
