//! A lock-free histogram of durations with fixed bucket bounds, rendered as a Prometheus histogram.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::exposition::{Exposition, Kind, format_value};

/// Upper bounds (seconds) for delivery latency: from a paced post (well under a second) to one that
/// waited out rate limits, retries or an outage.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
];

#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    /// Per bucket (not cumulative), plus one for values above the last bound.
    counts: Vec<AtomicU64>,
    sum_micros: AtomicU64,
}

impl Default for Histogram {
    /// With [`LATENCY_BUCKETS`].
    fn default() -> Self {
        Self::new(LATENCY_BUCKETS)
    }
}

impl Histogram {
    /// `bounds` must be increasing.
    pub fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_micros: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, value: Duration) {
        let seconds = value.as_secs_f64();
        let bucket = self
            .bounds
            .iter()
            .position(|&le| seconds <= le)
            .unwrap_or(self.bounds.len());
        if let Some(count) = self.counts.get(bucket) {
            count.fetch_add(1, Ordering::Relaxed);
        }
        let micros = u64::try_from(value.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// `<name>_bucket{le=…}` (cumulative, ending with `+Inf`), `<name>_sum` (seconds), `<name>_count`.
    /// The count is the sum of the buckets read, so the lines agree even while values arrive.
    pub fn render(&self, e: &mut Exposition, name: &str, help: &str) {
        e.family(name, Kind::Histogram, help);
        let bucket = format!("{name}_bucket");
        let mut cumulative = 0u64;
        for (i, count) in self.counts.iter().enumerate() {
            cumulative += count.load(Ordering::Relaxed);
            let le = self
                .bounds
                .get(i)
                .map_or_else(|| "+Inf".to_owned(), |&b| format_value(b));
            e.sample(&bucket, &[("le", &le)], cumulative as f64);
        }
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        e.sample(&format!("{name}_sum"), &[], sum);
        e.sample(&format!("{name}_count"), &[], cumulative as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_end_with_inf() {
        let h = Histogram::new(&[0.1, 1.0]);
        h.observe(Duration::from_millis(50));
        h.observe(Duration::from_millis(100)); // on the bound: `le` is inclusive
        h.observe(Duration::from_millis(700));
        h.observe(Duration::from_secs(5));
        let mut e = Exposition::new();
        h.render(&mut e, "lat_seconds", "Latency.");
        assert_eq!(
            e.finish(),
            "# HELP lat_seconds Latency.\n# TYPE lat_seconds histogram\n\
             lat_seconds_bucket{le=\"0.1\"} 2\nlat_seconds_bucket{le=\"1\"} 3\n\
             lat_seconds_bucket{le=\"+Inf\"} 4\nlat_seconds_sum 5.85\nlat_seconds_count 4\n"
        );
    }

    #[test]
    fn an_empty_histogram_still_lists_its_buckets() {
        let h = Histogram::default();
        let mut e = Exposition::new();
        h.render(&mut e, "x", "X.");
        let text = e.finish();
        assert_eq!(text.matches("x_bucket{").count(), LATENCY_BUCKETS.len() + 1);
        assert!(text.contains("x_bucket{le=\"+Inf\"} 0\nx_sum 0\nx_count 0\n"));
    }
}
