//! Block Kit rendering of a quality-gate transition within Slack's size limits (`slack.md` §3).

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::decision::{Gate, Transition};
use super::metrics::describe_condition;
use super::types::encode_query_value;
use super::webhook::{AnalysisEvent, BranchKind};

const HEADER_MAX: usize = 150;
/// Our own cap for a field (Slack allows 2,000): long gate or branch names are cut.
const FIELD_MAX: usize = 200;
const SECTION_MAX: usize = 3_000;
/// Budget for all strings in `blocks`, well under the undocumented ~11 k `msg_blocks_too_long`.
const BLOCK_TEXT_BUDGET: usize = 9_000;
const MAX_BLOCKS: usize = 50;
const FALLBACK_MAX: usize = 4_000;
/// Cap for one condition line, so one absurd metric key cannot crowd out the others.
const LINE_MAX: usize = 300;
const URL_MAX: usize = 3_000;
const CONTEXT_URL_MAX: usize = 300;

/// A message ready for `chat.postMessage`: fallback `text` plus a Block Kit `blocks` array.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SlackMessage {
    pub text: String,
    pub blocks: Value,
}

/// Escapes mrkdwn's control characters `&`, `<` and `>`, and nothing else.
pub fn escape_mrkdwn(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(c),
        }
    }
    out
}

/// A length as Slack's JavaScript counts it (UTF-16 units); never less than the char count.
fn slack_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// Cuts `s` to at most `max` (≥ 1) UTF-16 units, ending with "…" when anything was cut.
pub fn truncate(s: &str, max: usize) -> String {
    if slack_len(s) <= max {
        return s.to_owned();
    }
    let mut out = String::new();
    let mut used = 1;
    for c in s.chars() {
        used += c.len_utf16();
        if used > max {
            break;
        }
        out.push(c);
    }
    out.truncate(out.trim_end().len());
    out.push('…');
    out
}

/// The total length of every string in a Block Kit value: what Slack's total limit is measured on
/// (over-counting type names and URLs, to stay on the safe side).
pub fn block_text_len(v: &Value) -> usize {
    match v {
        Value::String(s) => slack_len(s),
        Value::Array(items) => items.iter().map(block_text_len).sum(),
        Value::Object(map) => map.values().map(block_text_len).sum(),
        _ => 0,
    }
}

/// A duration in its two largest units: "45 s", "2 h 14 min", "3 d 4 h". Negative counts as zero.
pub fn format_duration(d: Duration) -> String {
    let secs = d.num_seconds().max(0);
    let parts = [
        (secs / 86_400, "d"),
        (secs % 86_400 / 3_600, "h"),
        (secs % 3_600 / 60, "min"),
        (secs % 60, "s"),
    ];
    let Some(first) = parts.iter().position(|(n, _)| *n > 0) else {
        return "0 s".to_owned();
    };
    let (n, unit) = parts[first];
    match parts.get(first + 1).filter(|(n, _)| *n > 0) {
        Some((m, next)) => format!("{n} {unit} {m} {next}"),
        None => format!("{n} {unit}"),
    }
}

fn branch_label(branch: &BranchKind) -> String {
    match branch {
        BranchKind::Main { name } => name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .unwrap_or("main branch")
            .to_owned(),
        BranchKind::PullRequest { key } => format!("pull request {key}"),
        BranchKind::Other { name } => name.clone(),
    }
}

fn plain(text: &str) -> Value {
    json!({ "type": "plain_text", "text": text })
}

fn field(label: &str, value: &str) -> Value {
    plain(&truncate(&format!("{label}: {value}"), FIELD_MAX))
}

fn fields(event: &AnalysisEvent, now: DateTime<Utc>) -> Vec<Value> {
    let mut out = vec![field("Branch", &branch_label(&event.branch))];
    if let Some(gate) = event
        .gate_name
        .as_deref()
        .map(str::trim)
        .filter(|g| !g.is_empty())
    {
        out.push(field("Quality gate", gate));
    }
    if let Some(rev) = event
        .revision
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
    {
        out.push(field("Commit", &rev.chars().take(7).collect::<String>()));
    }
    let at = event.analysed_at.or(event.changed_at).unwrap_or(now);
    out.push(field(
        "Analysed",
        &at.format("%Y-%m-%d %H:%M UTC").to_string(),
    ));
    out
}

/// The dashboard link from the server URL and the key (the payload's `project.url` is not trusted).
/// `None` when Slack would refuse it: not http(s), unsafe characters, or over 3,000 characters.
fn dashboard_url(event: &AnalysisEvent) -> Option<String> {
    let url = format!(
        "{}/dashboard?id={}",
        event.server_url,
        encode_query_value(event.project_key.as_str())
    );
    let safe = event.server_url.looks_like_http()
        && url
            .chars()
            .all(|c| c.is_ascii_graphic() && !"<>\"|\\`{}^".contains(c));
    (safe && slack_len(&url) <= URL_MAX).then_some(url)
}

/// Packs condition lines into sections of at most [`SECTION_MAX`], `budget` in all and at most
/// `max_sections`, ending with "… and N more" when some lines do not fit.
fn pack_lines(lines: &[String], budget: usize, max_sections: usize) -> Vec<String> {
    let reserve = slack_len(&format!("\n… and {} more", lines.len()));
    let (mut sections, mut current, mut current_len) = (Vec::new(), String::new(), 0);
    let (mut used, mut shown) = (0, 0);
    for line in lines {
        let len = slack_len(line) + 1;
        if used + len + reserve > budget {
            break;
        }
        if current_len > 0 && current_len + len + reserve > SECTION_MAX {
            if sections.len() + 2 > max_sections {
                break;
            }
            sections.push(std::mem::take(&mut current));
            current_len = 0;
        }
        if current_len > 0 {
            current.push('\n');
        }
        current.push_str(line);
        current_len += len;
        used += len;
        shown += 1;
    }
    if shown < lines.len() {
        if current_len > 0 {
            current.push('\n');
        }
        current.push_str(&format!("… and {} more", lines.len() - shown));
    }
    if !current.is_empty() {
        sections.push(current);
    }
    sections
}

fn fallback_text(subject: &str, failed: bool, transition: &Transition, lines: &[String]) -> String {
    if !failed {
        let after = transition
            .failing_for
            .map(|d| format!(" after failing for {}", format_duration(d)))
            .unwrap_or_default();
        return escape_mrkdwn(&format!("Quality gate passed again for {subject}{after}"));
    }
    let mut text = escape_mrkdwn(&format!("Quality gate failed for {subject}"));
    let reserve = slack_len(&format!(", … and {} more", lines.len()));
    let mut shown = 0;
    for line in lines {
        let part = format!(
            "{}{}",
            if shown == 0 { ": " } else { ", " },
            escape_mrkdwn(line)
        );
        if slack_len(&text) + slack_len(&part) + reserve > FALLBACK_MAX {
            break;
        }
        text.push_str(&part);
        shown += 1;
    }
    if shown < lines.len() {
        let sep = if shown == 0 { ": " } else { ", " };
        text.push_str(&format!("{sep}… and {} more", lines.len() - shown));
    }
    text
}

fn section(text: Value) -> Value {
    json!({ "type": "section", "text": text })
}

fn mrkdwn(text: &str) -> Value {
    json!({ "type": "mrkdwn", "text": text })
}

/// The context line and, when the link is usable, the "Open in SonarQube" button.
fn footer_blocks(event: &AnalysisEvent) -> Vec<Value> {
    let server = escape_mrkdwn(&truncate(event.server_url.as_str(), CONTEXT_URL_MAX));
    let context = mrkdwn(&format!("SonarQube · {server}"));
    let mut blocks = vec![json!({ "type": "context", "elements": [context] })];
    if let Some(url) = dashboard_url(event) {
        let button = json!({
            "type": "button",
            "action_id": "open_sonarqube",
            "text": plain("Open in SonarQube"),
            "url": url,
        });
        blocks.push(json!({ "type": "actions", "elements": [button] }));
    }
    blocks
}

/// Renders a transition of `event`'s project; `now` stands in for a missing analysis time.
pub fn render(event: &AnalysisEvent, transition: &Transition, now: DateTime<Utc>) -> SlackMessage {
    let failed = transition.to == Gate::Failed;
    let name = &event.project_name;
    let header = if failed {
        format!(":red_circle: Quality gate failed: {name}")
    } else {
        format!(":large_green_circle: Quality gate passed again: {name}")
    };
    let header =
        json!({ "type": "plain_text", "text": truncate(&header, HEADER_MAX), "emoji": true });
    let head = [
        json!({ "type": "header", "text": header }),
        json!({ "type": "section", "fields": fields(event, now) }),
    ];
    let tail = footer_blocks(event);

    let is_error = |s: &str| s.trim().eq_ignore_ascii_case("ERROR");
    let lines: Vec<String> = event
        .conditions
        .iter()
        .filter(|c| c.status.as_deref().is_some_and(is_error))
        .map(|c| truncate(&describe_condition(c), LINE_MAX))
        .collect();
    let mut body = Vec::new();
    if failed && lines.is_empty() {
        body.push(section(plain("SonarQube reported no failed condition.")));
    } else if failed {
        body.push(section(mrkdwn(&format!(
            "*Failed conditions ({})*",
            lines.len()
        ))));
        let blocks = head.iter().chain(&body).chain(&tail);
        let budget = BLOCK_TEXT_BUDGET.saturating_sub(blocks.map(block_text_len).sum());
        let max_sections = MAX_BLOCKS.saturating_sub(head.len() + body.len() + tail.len());
        let bullets: Vec<String> = lines.iter().map(|l| format!("• {l}")).collect();
        for text in pack_lines(&bullets, budget, max_sections.max(1)) {
            body.push(section(plain(&text)));
        }
    } else if let Some(d) = transition.failing_for {
        body.push(section(plain(&format!(
            "Failing for {}",
            format_duration(d)
        ))));
    }

    let branch = branch_label(&event.branch);
    let subject = format!("{} ({})", truncate(name, 150), truncate(&branch, 100));
    SlackMessage {
        text: fallback_text(&subject, failed, transition, &lines),
        blocks: Value::Array(head.into_iter().chain(body).chain(tail).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::types::{ProjectKey, ServerUrl};
    use crate::domain::webhook::{Condition, parse_event};
    use chrono::TimeZone;

    const FAILED: &[u8] = include_bytes!("../../tests/fixtures/sonarqube/main-branch-failed.json");
    const NO_VALUE: &[u8] =
        include_bytes!("../../tests/fixtures/sonarqube/failed-condition-without-value.json");
    const PASSED: &[u8] = include_bytes!("../../tests/fixtures/sonarqube/main-branch-passed.json");
    const DOCS: &[u8] = include_bytes!("../../tests/fixtures/sonarqube/docs-example.json");

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2030, 1, 2, 3, 4, 5).unwrap()
    }

    fn failing() -> Transition {
        Transition {
            from: Gate::Passed,
            to: Gate::Failed,
            failing_for: None,
        }
    }

    fn recovered(failing_for: Option<Duration>) -> Transition {
        Transition {
            from: Gate::Failed,
            to: Gate::Passed,
            failing_for,
        }
    }

    fn blocks(m: &SlackMessage) -> &Vec<Value> {
        m.blocks.as_array().unwrap()
    }

    fn of_type<'a>(m: &'a SlackMessage, kind: &str) -> Vec<&'a Value> {
        blocks(m).iter().filter(|b| b["type"] == kind).collect()
    }

    fn header(m: &SlackMessage) -> String {
        of_type(m, "header")[0]["text"]["text"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    fn field_texts(m: &SlackMessage) -> Vec<String> {
        let fields = blocks(m)[1]["fields"].as_array().unwrap();
        fields
            .iter()
            .map(|f| f["text"].as_str().unwrap().to_owned())
            .collect()
    }

    /// Texts of sections that have a `text` (not the fields section).
    fn section_texts(m: &SlackMessage) -> Vec<String> {
        of_type(m, "section")
            .iter()
            .filter_map(|b| b["text"]["text"].as_str().map(str::to_owned))
            .collect()
    }

    fn button_url(m: &SlackMessage) -> Option<String> {
        let actions = of_type(m, "actions");
        actions
            .first()
            .map(|a| a["elements"][0]["url"].as_str().unwrap().to_owned())
    }

    /// Every mrkdwn text object's text, wherever it is.
    fn mrkdwn_texts(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                if map.get("type") == Some(&json!("mrkdwn")) {
                    out.push(map["text"].as_str().unwrap().to_owned());
                }
                map.values().for_each(|v| mrkdwn_texts(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| mrkdwn_texts(v, out)),
            _ => {}
        }
    }

    fn assert_escaped(s: &str) {
        assert!(!s.contains('<') && !s.contains('>'), "unescaped: {s}");
        for (i, _) in s.match_indices('&') {
            let rest = &s[i..];
            assert!(
                ["&amp;", "&lt;", "&gt;"]
                    .iter()
                    .any(|e| rest.starts_with(e)),
                "bare & in {s}"
            );
        }
    }

    #[test]
    fn main_branch_failure() {
        let event = parse_event(FAILED).unwrap();
        let m = render(&event, &failing(), now());
        assert_eq!(header(&m), ":red_circle: Quality gate failed: test-sonar");
        assert_eq!(of_type(&m, "header")[0]["text"]["emoji"], json!(true));
        assert_eq!(
            field_texts(&m),
            [
                "Branch: master",
                "Quality gate: Sonar way",
                "Analysed: 2021-03-08 18:25 UTC"
            ]
        );
        assert_eq!(
            section_texts(&m),
            [
                "*Failed conditions (2)*",
                "• Coverage 0 % (required ≥ 80 %)\n• Duplicated Lines (%) 89.4 % (required ≤ 3 %)",
            ]
        );
        assert_eq!(
            m.text,
            "Quality gate failed for test-sonar (master): Coverage 0 % (required ≥ 80 %), \
             Duplicated Lines (%) 89.4 % (required ≤ 3 %)"
        );
        assert_eq!(
            of_type(&m, "context")[0]["elements"][0]["text"],
            "SonarQube · http://localhost:9000"
        );
        assert_eq!(
            button_url(&m).as_deref(),
            Some("http://localhost:9000/dashboard?id=test-sonar")
        );
        let button = &of_type(&m, "actions")[0]["elements"][0];
        assert_eq!(button["text"]["text"], "Open in SonarQube");
        let kinds: Vec<&str> = blocks(&m)
            .iter()
            .map(|b| b["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            [
                "header", "section", "section", "section", "context", "actions"
            ]
        );
    }

    #[test]
    fn failed_condition_without_value() {
        let m = render(&parse_event(NO_VALUE).unwrap(), &failing(), now());
        assert_eq!(
            section_texts(&m)[1],
            "• Coverage 0 % (required ≥ 80 %)\n• Duplicated Lines (%) has no value (required ≤ 3 %)"
        );
        assert!(
            m.text
                .ends_with("Duplicated Lines (%) has no value (required ≤ 3 %)"),
            "{}",
            m.text
        );
    }

    #[test]
    fn recovery_says_how_long_it_failed() {
        let event = parse_event(PASSED).unwrap();
        let m = render(&event, &recovered(Some(Duration::minutes(134))), now());
        assert_eq!(
            header(&m),
            ":large_green_circle: Quality gate passed again: test-sonar"
        );
        assert_eq!(section_texts(&m), ["Failing for 2 h 14 min"]);
        assert_eq!(
            m.text,
            "Quality gate passed again for test-sonar (master) after failing for 2 h 14 min"
        );

        let m = render(&event, &recovered(None), now());
        assert!(section_texts(&m).is_empty());
        assert_eq!(m.text, "Quality gate passed again for test-sonar (master)");
    }

    #[test]
    fn docs_example_commit_default_branch_and_placeholder_server() {
        let event = parse_event(DOCS).unwrap();
        let m = render(&event, &failing(), now());
        assert_eq!(
            field_texts(&m),
            [
                "Branch: main branch",
                "Quality gate: SonarQube way",
                "Commit: c739069",
                "Analysed: 2016-11-18 09:46 UTC"
            ]
        );
        assert_eq!(
            of_type(&m, "context")[0]["elements"][0]["text"],
            "SonarQube · &lt;mySonarqubeURL&gt;"
        );
        assert_eq!(
            button_url(&m),
            None,
            "a placeholder server URL gives no button"
        );
        assert_eq!(
            section_texts(&m),
            ["SonarQube reported no failed condition."]
        );
        assert_eq!(m.text, "Quality gate failed for My Project (main branch)");
    }

    #[test]
    fn analysed_time_falls_back_to_changed_at_then_now() {
        let mut event = parse_event(FAILED).unwrap();
        event.analysed_at = None;
        event.changed_at = Some(Utc.with_ymd_and_hms(2022, 2, 3, 4, 5, 6).unwrap());
        let m = render(&event, &failing(), now());
        assert_eq!(
            field_texts(&m).last().unwrap(),
            "Analysed: 2022-02-03 04:05 UTC"
        );
        event.changed_at = None;
        event.gate_name = None;
        let m = render(&event, &failing(), now());
        assert_eq!(
            field_texts(&m),
            ["Branch: master", "Analysed: 2030-01-02 03:04 UTC"]
        );
    }

    #[test]
    fn names_are_escaped_in_text_and_mrkdwn_but_not_in_plain_text() {
        let mut event = parse_event(FAILED).unwrap();
        event.project_name = "R&D <core> *x_y*".into();
        event.server_url = ServerUrl::parse("https://sq.example.com/a&b").unwrap();
        let m = render(&event, &failing(), now());
        assert_eq!(
            header(&m),
            ":red_circle: Quality gate failed: R&D <core> *x_y*"
        );
        assert!(
            m.text
                .starts_with("Quality gate failed for R&amp;D &lt;core&gt; *x_y* (master): "),
            "{}",
            m.text
        );
        assert_escaped(&m.text);
        let mut texts = Vec::new();
        mrkdwn_texts(&m.blocks, &mut texts);
        assert_eq!(texts.len(), 2);
        texts.iter().for_each(|t| assert_escaped(t));
        assert!(texts.contains(&"SonarQube · https://sq.example.com/a&amp;b".to_owned()));
    }

    #[test]
    fn dashboard_url_encodes_the_key_and_ignores_the_payload_url() {
        let mut event = parse_event(FAILED).unwrap();
        event.server_url = ServerUrl::parse("https://sq.example.com/").unwrap();
        event.project_key = ProjectKey::parse("org:svc").unwrap();
        let m = render(&event, &failing(), now());
        assert_eq!(
            button_url(&m).as_deref(),
            Some("https://sq.example.com/dashboard?id=org%3Asvc")
        );

        event.server_url =
            ServerUrl::parse(&format!("https://sq.example.com/{}", "a".repeat(1970))).unwrap();
        let m = render(&event, &failing(), now());
        assert!(button_url(&m).is_some(), "a 2,000-char URL still fits");
        event.project_key = ProjectKey::parse(&":".repeat(400)).unwrap();
        let m = render(&event, &failing(), now());
        assert_eq!(button_url(&m), None, "over 3,000 chars drops the button");
        assert!(of_type(&m, "actions").is_empty());
    }

    #[test]
    fn ratings_show_as_letters() {
        let mut event = parse_event(FAILED).unwrap();
        event.conditions = vec![Condition {
            metric: "new_reliability_rating".into(),
            operator: Some("GREATER_THAN".into()),
            value: Some("3".into()),
            status: Some("error".into()),
            error_threshold: Some("1".into()),
        }];
        let m = render(&event, &failing(), now());
        assert_eq!(
            section_texts(&m)[1],
            "• Reliability Rating on New Code C (required A)"
        );
    }

    #[test]
    fn many_conditions_are_cut_within_every_limit() {
        let mut event = parse_event(FAILED).unwrap();
        event.project_name = "p".repeat(400);
        event.gate_name = Some("g".repeat(3_000));
        event.conditions = (0..500)
            .map(|i| Condition {
                metric: format!("new_custom_metric_number_{i}"),
                operator: Some("GREATER_THAN".into()),
                value: Some(format!("{}", 1000 + i)),
                status: Some("ERROR".into()),
                error_threshold: Some("0".into()),
            })
            .collect();
        let m = render(&event, &failing(), now());
        let h = header(&m);
        assert!(h.chars().count() <= 150 && h.ends_with('…'), "{h}");
        assert!(field_texts(&m).iter().all(|f| f.chars().count() <= 2_000));
        assert!(
            block_text_len(&m.blocks) <= 10_000,
            "{}",
            block_text_len(&m.blocks)
        );
        assert!(blocks(&m).len() <= 50);
        let sections = section_texts(&m);
        assert!(sections.iter().all(|s| slack_len(s) <= 3_000));
        let lines: Vec<&str> = sections[1..].iter().flat_map(|s| s.lines()).collect();
        let shown = lines.iter().filter(|l| l.starts_with("• ")).count();
        assert!(shown > 50, "{shown} lines shown");
        assert_eq!(lines[0], "• new_custom_metric_number_0 1000 (required ≤ 0)");
        assert_eq!(
            *lines.last().unwrap(),
            format!("… and {} more", 500 - shown)
        );
        assert_eq!(lines.len(), shown + 1);
        assert!(slack_len(&m.text) <= 4_000);
        assert!(m.text.ends_with(" more"), "{}", m.text);
    }

    #[test]
    fn pack_lines_respects_section_count() {
        let lines: Vec<String> = (0..100).map(|i| format!("{i:0>99}")).collect();
        let packed = pack_lines(&lines, 100_000, 2);
        assert_eq!(packed.len(), 2);
        assert!(packed.iter().all(|s| slack_len(s) <= SECTION_MAX));
        let shown: usize = packed.iter().map(|s| s.lines().count()).sum::<usize>() - 1;
        assert!(packed[1].ends_with(&format!("… and {} more", 100 - shown)));
        assert_eq!(pack_lines(&lines, 10, 5), ["… and 100 more"]);
        assert!(pack_lines(&[], 100, 5).is_empty());
    }

    #[test]
    fn durations() {
        let cases = [
            (Duration::seconds(45), "45 s"),
            (Duration::seconds(0), "0 s"),
            (Duration::seconds(-5), "0 s"),
            (Duration::seconds(303), "5 min 3 s"),
            (Duration::minutes(134), "2 h 14 min"),
            (Duration::hours(76) + Duration::minutes(30), "3 d 4 h"),
            (Duration::days(2) + Duration::minutes(5), "2 d"),
            (Duration::hours(1), "1 h"),
        ];
        for (d, shown) in cases {
            assert_eq!(format_duration(d), shown);
        }
    }

    #[test]
    fn truncation_and_escaping_helpers() {
        assert_eq!(truncate("abcdef", 6), "abcdef");
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("ab  cdef", 5), "ab…");
        assert_eq!(truncate("😀😀😀", 4), "😀…");
        assert_eq!(escape_mrkdwn("a&b<c>*_~`"), "a&amp;b&lt;c&gt;*_~`");
    }

    #[test]
    fn message_round_trips_through_json() {
        let m = render(&parse_event(FAILED).unwrap(), &failing(), now());
        let back: SlackMessage = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        assert_eq!(back, m);
    }
}
