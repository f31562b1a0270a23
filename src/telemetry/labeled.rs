//! A counter family with one label, for values our code names (decision codes, outcomes): the set
//! of label values stays small and known.

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::exposition::{Exposition, Kind};

#[derive(Debug, Default)]
pub struct Labeled {
    counts: Mutex<BTreeMap<String, u64>>,
}

impl Labeled {
    pub fn bump(&self, value: &str) {
        self.add(value, 1);
    }

    pub fn add(&self, value: &str, n: u64) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        match counts.get_mut(value) {
            Some(c) => *c += n,
            None => {
                counts.insert(value.to_owned(), n);
            }
        }
    }

    pub fn get(&self, value: &str) -> u64 {
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts.get(value).copied().unwrap_or(0)
    }

    /// The family with a sample per value seen, plus `always` at 0 when not seen yet (so rates and
    /// alerts on them work from the first scrape).
    pub fn render(&self, e: &mut Exposition, name: &str, help: &str, label: &str, always: &[&str]) {
        let mut rows = self
            .counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for value in always {
            rows.entry((*value).to_owned()).or_insert(0);
        }
        e.family(name, Kind::Counter, help);
        for (value, n) in rows {
            e.sample(name, &[(label, &value)], n as f64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_seen_and_values_always_shown() {
        let c = Labeled::default();
        c.bump("sent");
        c.bump("sent");
        c.add("failed", 3);
        c.bump("odd \"one\"");
        assert_eq!(c.get("sent"), 2);
        let mut e = Exposition::new();
        c.render(&mut e, "d_total", "D.", "outcome", &["sent", "skipped"]);
        assert_eq!(
            e.finish(),
            "# HELP d_total D.\n# TYPE d_total counter\n\
             d_total{outcome=\"failed\"} 3\nd_total{outcome=\"odd \\\"one\\\"\"} 1\n\
             d_total{outcome=\"sent\"} 2\nd_total{outcome=\"skipped\"} 0\n"
        );
    }
}
