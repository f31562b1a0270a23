//! The demo's last word on the pipeline: its own `GET /metrics`, as `curl` would show it, cut down to
//! the samples that moved.

use std::time::Duration;

use anyhow::Context;

/// The families an operator looks at first.
const MAIN: [&str; 7] = [
    "sonar_slack_webhooks_received_total",
    "sonar_slack_transitions_total",
    "sonar_slack_deliveries_total",
    "sonar_slack_slack_rate_limited_total",
    "sonar_slack_delivery_latency_seconds",
    "sonar_slack_deliveries{",
    "sonar_slack_actors",
];

/// Fetches `/metrics` (waiting until `sent` deliveries are counted: the counter moves right after
/// the database records them) and prints the non-zero samples of the main families.
pub async fn show(client: &reqwest::Client, base: &str, sent: usize) -> anyhow::Result<()> {
    let url = format!("{base}/metrics");
    let want = format!("sonar_slack_deliveries_total{{outcome=\"sent\"}} {sent}\n");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let text = loop {
        let text = client
            .get(&url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .context("GET /metrics failed")?
            .text()
            .await?;
        if text.contains(&want) || tokio::time::Instant::now() >= deadline {
            break text;
        }
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    };
    println!("\nGET {url} (non-zero samples of the main families; buckets left out):");
    for line in main_lines(&text) {
        println!("  {line}");
    }
    Ok(())
}

fn main_lines(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.contains("_bucket{"))
        .filter(|line| MAIN.iter().any(|family| line.starts_with(family)))
        .filter(|line| line.rsplit_once(' ').is_some_and(|(_, v)| v != "0"))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_moved_samples_of_the_main_families() {
        let text = "# HELP sonar_slack_transitions_total T.\n\
            sonar_slack_transitions_total{to=\"failed\"} 1\n\
            sonar_slack_transitions_total{to=\"passed\"} 0\n\
            sonar_slack_delivery_latency_seconds_bucket{le=\"1\"} 4\n\
            sonar_slack_delivery_latency_seconds_count 4\n\
            sonar_slack_installs_total 3\n\
            sonar_slack_deliveries{state=\"sent\"} 4\n";
        assert_eq!(
            super::main_lines(text),
            [
                "sonar_slack_transitions_total{to=\"failed\"} 1",
                "sonar_slack_delivery_latency_seconds_count 4",
                "sonar_slack_deliveries{state=\"sent\"} 4",
            ]
        );
    }
}
