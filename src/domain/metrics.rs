//! Human names for SonarQube metric keys, value formatting, and one-line condition descriptions.

use super::webhook::Condition;

/// How a metric's raw value is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `"1"`..`"5"` shown as `A`..`E`.
    Rating,
    Percent,
    /// Effort in minutes (technical debt, remediation effort).
    Minutes,
    Plain,
}

fn kind(metric: &str) -> Kind {
    if metric.ends_with("_rating") {
        Kind::Rating
    } else if ["coverage", "_density", "hotspots_reviewed", "_debt_ratio"]
        .iter()
        .any(|s| metric.ends_with(s))
    {
        Kind::Percent
    } else if metric == "sqale_index"
        || metric == "new_technical_debt"
        || metric.ends_with("_remediation_effort")
        || metric.starts_with("effort_to_reach_")
    {
        Kind::Minutes
    } else {
        Kind::Plain
    }
}

/// Names of metrics measured on overall code; `new_<key>` becomes "<name> on New Code".
fn base_name(key: &str) -> Option<&'static str> {
    Some(match key {
        "coverage" => "Coverage",
        "line_coverage" => "Line Coverage",
        "branch_coverage" => "Condition Coverage",
        "lines_to_cover" => "Lines to Cover",
        "uncovered_lines" => "Uncovered Lines",
        "uncovered_conditions" => "Uncovered Conditions",
        "duplicated_lines_density" => "Duplicated Lines (%)",
        "duplicated_lines" => "Duplicated Lines",
        "duplicated_blocks" => "Duplicated Blocks",
        "reliability_rating" | "software_quality_reliability_rating" => "Reliability Rating",
        "security_rating" | "software_quality_security_rating" => "Security Rating",
        "sqale_rating" | "maintainability_rating" | "software_quality_maintainability_rating" => {
            "Maintainability Rating"
        }
        "security_review_rating" => "Security Review Rating",
        "security_hotspots_reviewed" => "Security Hotspots Reviewed",
        "security_hotspots" => "Security Hotspots",
        "bugs" => "Bugs",
        "vulnerabilities" => "Vulnerabilities",
        "code_smells" => "Code Smells",
        "violations" => "Issues",
        "blocker_violations" => "Blocker Issues",
        "critical_violations" => "Critical Issues",
        "major_violations" => "Major Issues",
        "minor_violations" => "Minor Issues",
        "info_violations" => "Info Issues",
        "accepted_issues" => "Accepted Issues",
        "software_quality_reliability_issues" => "Reliability Issues",
        "software_quality_security_issues" => "Security Issues",
        "software_quality_maintainability_issues" => "Maintainability Issues",
        "software_quality_blocker_issues" => "Blocker Severity Issues",
        "software_quality_high_issues" => "High Severity Issues",
        "software_quality_medium_issues" => "Medium Severity Issues",
        "software_quality_low_issues" => "Low Severity Issues",
        "software_quality_info_issues" => "Info Severity Issues",
        "sqale_index"
        | "technical_debt"
        | "software_quality_maintainability_remediation_effort" => "Technical Debt",
        "sqale_debt_ratio" | "software_quality_maintainability_debt_ratio" => {
            "Technical Debt Ratio"
        }
        "reliability_remediation_effort" | "software_quality_reliability_remediation_effort" => {
            "Reliability Remediation Effort"
        }
        "security_remediation_effort" | "software_quality_security_remediation_effort" => {
            "Security Remediation Effort"
        }
        "ncloc" => "Lines of Code",
        "lines" => "Lines",
        "new_lines" => "New Lines",
        "tests" => "Unit Tests",
        "test_errors" => "Unit Test Errors",
        "test_failures" => "Unit Test Failures",
        "skipped_tests" => "Skipped Unit Tests",
        "test_success_density" => "Unit Test Success (%)",
        "complexity" => "Cyclomatic Complexity",
        "cognitive_complexity" => "Cognitive Complexity",
        _ => return None,
    })
}

/// A human name for a metric key, e.g. `new_coverage` → "Coverage on New Code".
/// Unknown keys (custom plugin metrics) are returned unchanged, so they can still be looked up.
pub fn metric_name(key: &str) -> String {
    if let Some(name) = base_name(key) {
        return name.to_owned();
    }
    match key.strip_prefix("new_").and_then(base_name) {
        Some(name) => format!("{name} on New Code"),
        None => key.to_owned(),
    }
}

/// A finite number from a raw decimal string; `None` for anything else ("NaN" and "inf" included).
fn parse_number(raw: &str) -> Option<f64> {
    raw.trim().parse::<f64>().ok().filter(|n| n.is_finite())
}

/// At most one decimal, without a trailing `.0`, never `-0`.
fn short_number(n: f64) -> String {
    let s = format!("{n:.1}");
    let s = s.strip_suffix(".0").unwrap_or(&s);
    if s == "-0" {
        "0".to_owned()
    } else {
        s.to_owned()
    }
}

/// The grade for a numeric rating: 1 → `A` … 5 → `E`.
fn rating_letter(n: f64) -> Option<char> {
    if (n - n.round()).abs() > 1e-9 {
        return None;
    }
    // Finite and integral here; out-of-range values saturate and fall through to `None`.
    match n.round() as i64 {
        1 => Some('A'),
        2 => Some('B'),
        3 => Some('C'),
        4 => Some('D'),
        5 => Some('E'),
        _ => None,
    }
}

/// Minutes as "45 min", "2 h" or "2 h 14 min" (SonarQube's 8-hour "days" are not used).
fn format_minutes(n: f64) -> String {
    let total = n.round() as i64;
    let (hours, minutes) = (total / 60, (total % 60).abs());
    match (hours, minutes) {
        (0, _) => format!("{total} min"),
        (_, 0) => format!("{hours} h"),
        _ => format!("{hours} h {minutes} min"),
    }
}

/// Formats a raw measure for people: ratings as letters, percentages with " %", efforts in minutes
/// and hours, other numbers with at most one decimal. Non-numeric values are returned as they are.
pub fn format_value(metric: &str, raw: &str) -> String {
    let Some(n) = parse_number(raw) else {
        return raw.to_owned();
    };
    match kind(metric) {
        Kind::Rating => rating_letter(n).map_or_else(|| short_number(n), String::from),
        Kind::Percent => format!("{} %", short_number(n)),
        Kind::Minutes => format_minutes(n),
        Kind::Plain => match raw.trim().parse::<i64>() {
            Ok(i) => i.to_string(),
            Err(_) => short_number(n),
        },
    }
}

/// What a condition requires, from its operator and error threshold (the gate fails when
/// `value <operator> threshold` holds). `None` when either is missing or the operator is unknown.
fn requirement(c: &Condition) -> Option<String> {
    let threshold = c
        .error_threshold
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())?;
    let operator = c.operator.as_deref()?.trim().to_ascii_uppercase();
    let shown = format_value(&c.metric, threshold);
    if kind(&c.metric) == Kind::Rating
        && let Some(letter) = parse_number(threshold).and_then(rating_letter)
    {
        match (operator.as_str(), letter) {
            ("GREATER_THAN" | "GT", 'A') | ("LESS_THAN" | "LT", 'E') => {
                return Some(letter.to_string());
            }
            ("GREATER_THAN" | "GT", _) => return Some(format!("{letter} or better")),
            ("LESS_THAN" | "LT", _) => return Some(format!("{letter} or worse")),
            _ => {}
        }
    }
    let sign = match operator.as_str() {
        "LESS_THAN" | "LT" => "≥",
        "GREATER_THAN" | "GT" => "≤",
        "EQUALS" | "EQ" => "≠",
        "NOT_EQUALS" | "NE" => "=",
        _ => return None,
    };
    Some(format!("{sign} {shown}"))
}

/// One line for a condition, e.g. `Coverage on New Code 45.2 % (required ≥ 80 %)` or
/// `Duplicated Lines (%) has no value (required ≤ 3 %)`. Plain text: not escaped for mrkdwn.
pub fn describe_condition(c: &Condition) -> String {
    let name = metric_name(&c.metric);
    let mut line = match c.value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
        Some(value) => format!("{name} {}", format_value(&c.metric, value)),
        None => format!("{name} has no value"),
    };
    if let Some(required) = requirement(c) {
        line.push_str(&format!(" (required {required})"));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::webhook::parse_event;

    fn cond(
        metric: &str,
        op: Option<&str>,
        value: Option<&str>,
        threshold: Option<&str>,
    ) -> Condition {
        Condition {
            metric: metric.into(),
            operator: op.map(Into::into),
            value: value.map(Into::into),
            status: Some("ERROR".into()),
            error_threshold: threshold.map(Into::into),
        }
    }

    fn error_lines(body: &[u8]) -> Vec<String> {
        let event = parse_event(body).unwrap();
        event
            .conditions
            .iter()
            .filter(|c| c.status.as_deref() == Some("ERROR"))
            .map(describe_condition)
            .collect()
    }

    #[test]
    fn metric_names() {
        let cases = [
            ("new_coverage", "Coverage on New Code"),
            ("coverage", "Coverage"),
            (
                "new_duplicated_lines_density",
                "Duplicated Lines (%) on New Code",
            ),
            ("duplicated_lines_density", "Duplicated Lines (%)"),
            ("new_reliability_rating", "Reliability Rating on New Code"),
            ("new_security_rating", "Security Rating on New Code"),
            (
                "new_maintainability_rating",
                "Maintainability Rating on New Code",
            ),
            ("new_sqale_rating", "Maintainability Rating on New Code"),
            ("sqale_rating", "Maintainability Rating"),
            ("maintainability_rating", "Maintainability Rating"),
            (
                "new_security_hotspots_reviewed",
                "Security Hotspots Reviewed on New Code",
            ),
            ("security_review_rating", "Security Review Rating"),
            ("new_violations", "Issues on New Code"),
            ("new_blocker_violations", "Blocker Issues on New Code"),
            ("new_code_smells", "Code Smells on New Code"),
            ("new_lines_to_cover", "Lines to Cover on New Code"),
            ("new_lines", "New Lines"),
            ("sqale_index", "Technical Debt"),
            ("new_technical_debt", "Technical Debt on New Code"),
            (
                "new_software_quality_maintainability_rating",
                "Maintainability Rating on New Code",
            ),
            ("software_quality_blocker_issues", "Blocker Severity Issues"),
            ("foo_bar", "foo_bar"),
            ("new_foo_bar", "new_foo_bar"),
        ];
        for (key, name) in cases {
            assert_eq!(metric_name(key), name, "{key}");
        }
    }

    #[test]
    fn value_formats() {
        let cases = [
            ("new_reliability_rating", "1", "A"),
            ("sqale_rating", "1.0", "A"),
            ("new_security_rating", "3", "C"),
            ("security_review_rating", "5.0", "E"),
            ("security_rating", "7", "7"),
            ("new_coverage", "45.23", "45.2 %"),
            ("coverage", "80", "80 %"),
            ("coverage", "0.0", "0 %"),
            ("coverage", "99.96", "100 %"),
            ("duplicated_lines_density", "89.39828080229226", "89.4 %"),
            ("new_security_hotspots_reviewed", "100.0", "100 %"),
            ("test_success_density", "97.25", "97.2 %"),
            ("new_violations", "12", "12"),
            ("new_violations", "12.0", "12"),
            ("bugs", "1.25", "1.2"),
            ("bugs", "-0.01", "0"),
            ("sqale_index", "45", "45 min"),
            ("new_technical_debt", "134", "2 h 14 min"),
            ("sqale_index", "120", "2 h"),
            ("bugs", "n/a", "n/a"),
            ("bugs", "NaN", "NaN"),
            ("coverage", "", ""),
        ];
        for (metric, raw, shown) in cases {
            assert_eq!(format_value(metric, raw), shown, "{metric}={raw}");
        }
    }

    #[test]
    fn requirements_follow_the_operator() {
        let line = |m, op, v, t| describe_condition(&cond(m, Some(op), Some(v), Some(t)));
        assert_eq!(
            line("new_coverage", "LESS_THAN", "45.2", "80"),
            "Coverage on New Code 45.2 % (required ≥ 80 %)"
        );
        assert_eq!(
            line("new_violations", "GREATER_THAN", "4", "0"),
            "Issues on New Code 4 (required ≤ 0)"
        );
        assert_eq!(line("bugs", "EQUALS", "3", "3"), "Bugs 3 (required ≠ 3)");
        assert_eq!(
            line("bugs", "NOT_EQUALS", "2", "3"),
            "Bugs 2 (required = 3)"
        );
        assert_eq!(line("bugs", "less_than", "2", "3"), "Bugs 2 (required ≥ 3)");
        assert_eq!(line("bugs", "BETWEEN", "2", "3"), "Bugs 2");
    }

    #[test]
    fn ratings_are_letters_with_readable_requirements() {
        let line = |v, t| {
            describe_condition(&cond(
                "new_reliability_rating",
                Some("GREATER_THAN"),
                Some(v),
                Some(t),
            ))
        };
        assert_eq!(
            line("3", "1"),
            "Reliability Rating on New Code C (required A)"
        );
        assert_eq!(
            line("3.0", "2"),
            "Reliability Rating on New Code C (required B or better)"
        );
        assert_eq!(
            line("5", "4"),
            "Reliability Rating on New Code E (required D or better)"
        );
    }

    #[test]
    fn missing_parts_are_left_out() {
        let c = cond(
            "duplicated_lines_density",
            Some("GREATER_THAN"),
            None,
            Some("3"),
        );
        assert_eq!(
            describe_condition(&c),
            "Duplicated Lines (%) has no value (required ≤ 3 %)"
        );
        let c = cond("coverage", None, Some("10"), Some("80"));
        assert_eq!(describe_condition(&c), "Coverage 10 %");
        let c = cond("coverage", Some("LESS_THAN"), Some("10"), None);
        assert_eq!(describe_condition(&c), "Coverage 10 %");
        let c = cond("coverage", Some("LESS_THAN"), Some(" "), Some(""));
        assert_eq!(describe_condition(&c), "Coverage has no value");
    }

    #[test]
    fn fixture_main_branch_failed() {
        let lines = error_lines(include_bytes!(
            "../../tests/fixtures/sonarqube/main-branch-failed.json"
        ));
        assert_eq!(
            lines,
            [
                "Coverage 0 % (required ≥ 80 %)",
                "Duplicated Lines (%) 89.4 % (required ≤ 3 %)"
            ]
        );
    }

    #[test]
    fn fixture_failed_condition_without_value() {
        let lines = error_lines(include_bytes!(
            "../../tests/fixtures/sonarqube/failed-condition-without-value.json"
        ));
        assert_eq!(
            lines,
            [
                "Coverage 0 % (required ≥ 80 %)",
                "Duplicated Lines (%) has no value (required ≤ 3 %)"
            ]
        );
    }

    #[test]
    fn fixture_passed_conditions_read_well() {
        let event = parse_event(include_bytes!(
            "../../tests/fixtures/sonarqube/main-branch-passed.json"
        ))
        .unwrap();
        let lines: Vec<String> = event.conditions.iter().map(describe_condition).collect();
        assert_eq!(
            lines,
            [
                "Reliability Rating on New Code A (required A)",
                "Security Rating on New Code A (required A)",
                "Maintainability Rating on New Code A (required A)",
                "Coverage on New Code has no value (required ≥ 80 %)",
                "Duplicated Lines (%) on New Code has no value (required ≤ 3 %)",
                "Security Hotspots Reviewed on New Code has no value (required ≥ 100 %)",
            ]
        );
    }
}
