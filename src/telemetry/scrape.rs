//! One `/metrics` page: the process's counters plus the gauges read at scrape time (queue depth
//! from the database, live actors from the Registry). A gauge that cannot be read is explained in a
//! comment line; the rest of the page is still served.

use super::Counters;
use super::exposition::{Exposition, Kind};

/// Delivery states, as exposed: `pending` rows with a request out to Slack are `in_flight`.
pub const DELIVERY_STATES: [&str; 4] = ["pending", "in_flight", "sent", "failed"];

/// Actor kinds, as exposed.
pub const ACTOR_KINDS: [&str; 2] = ["project", "channel"];

/// What a scrape read besides the counters; `Err` says why a gauge is missing.
pub struct Gauges {
    /// Deliveries per state (states absent from the list are 0).
    pub queue: Result<Vec<(&'static str, u64)>, String>,
    /// Live actors per kind.
    pub actors: Result<Vec<(&'static str, u64)>, String>,
}

pub fn render(counters: &Counters, gauges: &Gauges) -> String {
    let mut e = Exposition::new();
    counters.render_into(&mut e);
    gauge(
        &mut e,
        "sonar_slack_deliveries",
        "Deliveries in the database by state (in_flight: pending with a request out to Slack).",
        "state",
        &DELIVERY_STATES,
        &gauges.queue,
    );
    gauge(
        &mut e,
        "sonar_slack_actors",
        "Live actors by kind (one per SonarQube project, one per Slack channel).",
        "kind",
        &ACTOR_KINDS,
        &gauges.actors,
    );
    e.finish()
}

fn gauge(
    e: &mut Exposition,
    name: &str,
    help: &str,
    label: &str,
    values: &[&str],
    read: &Result<Vec<(&'static str, u64)>, String>,
) {
    e.family(name, Kind::Gauge, help);
    match read {
        Ok(rows) => {
            for value in values {
                let n: u64 = rows
                    .iter()
                    .filter(|(v, _)| v == value)
                    .map(|(_, n)| n)
                    .sum();
                e.sample(name, &[(label, value)], n as f64);
            }
        }
        Err(why) => e.comment(&format!("{name} not available in this scrape: {why}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauges_list_every_state_and_a_failure_is_a_comment() {
        let counters = Counters::default();
        counters.webhooks.bump("notified");
        let text = render(
            &counters,
            &Gauges {
                queue: Err("the database did not answer: pool timed out".into()),
                actors: Ok(vec![("project", 2), ("channel", 5)]),
            },
        );
        assert!(text.contains("sonar_slack_webhooks_received_total{outcome=\"notified\"} 1\n"));
        assert!(text.contains(
            "# TYPE sonar_slack_deliveries gauge\n# sonar_slack_deliveries not available in this scrape: the database did not answer: pool timed out\n"
        ));
        assert!(!text.contains("sonar_slack_deliveries{"));
        assert!(text.contains(
            "sonar_slack_actors{kind=\"project\"} 2\nsonar_slack_actors{kind=\"channel\"} 5\n"
        ));

        let text = render(
            &counters,
            &Gauges {
                queue: Ok(vec![("sent", 3), ("pending", 1)]),
                actors: Err("the actors did not answer within 2 s".into()),
            },
        );
        for line in [
            "sonar_slack_deliveries{state=\"pending\"} 1",
            "sonar_slack_deliveries{state=\"in_flight\"} 0",
            "sonar_slack_deliveries{state=\"sent\"} 3",
            "sonar_slack_deliveries{state=\"failed\"} 0",
            "# sonar_slack_actors not available in this scrape: the actors did not answer within 2 s",
        ] {
            assert!(text.contains(&format!("{line}\n")), "{line} in {text}");
        }
    }

    #[test]
    fn every_family_has_help_and_type_before_its_samples() {
        let text = render(
            &Counters::default(),
            &Gauges {
                queue: Ok(vec![]),
                actors: Ok(vec![]),
            },
        );
        let mut typed: Vec<String> = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let name = rest.split(' ').next().unwrap_or_default();
                assert!(
                    text.contains(&format!("# HELP {name} ")),
                    "no HELP for {name}"
                );
                assert!(!typed.contains(&name.to_owned()), "{name} typed twice");
                typed.push(name.to_owned());
            } else if !line.starts_with('#') {
                let name = line.split(['{', ' ']).next().unwrap_or_default();
                let family = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|s| name.strip_suffix(s))
                    .filter(|f| typed.last().is_some_and(|t| t == f))
                    .unwrap_or(name);
                assert_eq!(typed.last().map(String::as_str), Some(family), "{line}");
            }
        }
        assert!(typed.len() >= 12, "{typed:?}");
    }
}
