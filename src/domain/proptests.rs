//! Property tests of everything that reads untrusted input: the webhook parser, the slash-command
//! grammar and both signature checks never panic on arbitrary input, and round-trips hold.

use proptest::prelude::*;

use super::command::{self, Command};
use super::signature::{sonar_signature, verify_sonar};
use super::slack_signature::{slack_signature, verify_slack};
use super::webhook::{parse_envelope, parse_event};

const FAILED: &str = include_str!("../../tests/fixtures/sonarqube/main-branch-failed.json");

proptest! {
    // A fixed seed: the same 512 cases on every run, so a failure is reproducible as it is.
    #![proptest_config(ProptestConfig {
        cases: 512,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x50_4e_41_52),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn webhook_parsing_never_panics_on_bytes(body in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse_envelope(&body);
        let _ = parse_event(&body);
    }

    #[test]
    fn webhook_parsing_never_panics_on_damaged_fixtures(cut in 0usize..4000, byte in any::<u8>(), at in 0usize..4000) {
        let mut body = FAILED.as_bytes().to_vec();
        body.truncate(cut.min(body.len()));
        if !body.is_empty() {
            let i = at % body.len();
            body[i] = byte;
        }
        let _ = parse_envelope(&body);
        let _ = parse_event(&body);
    }

    #[test]
    fn any_json_value_in_a_fixture_field_is_handled(
        field in prop::sample::select(vec!["serverUrl", "taskId", "status", "analysedAt", "changedAt", "project", "branch", "qualityGate"]),
        value in prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            ".{0,40}".prop_map(serde_json::Value::from),
            Just(serde_json::json!([])),
            Just(serde_json::json!({})),
        ],
    ) {
        let mut v: serde_json::Value = serde_json::from_str(FAILED).expect("fixture");
        v[field] = value;
        let body = serde_json::to_vec(&v).expect("json");
        let _ = parse_event(&body);
    }

    #[test]
    fn the_command_grammar_never_panics(text in ".{0,300}") {
        let _ = command::parse(&text);
    }

    #[test]
    fn subscribe_keys_round_trip(
        keys in proptest::collection::vec("[A-Za-z_][A-Za-z0-9_.:-]{0,30}", 1..6),
        sep in prop::sample::select(vec![" ", ",", ", ", "  "]),
    ) {
        let mut unique: Vec<String> = Vec::new();
        for k in &keys {
            if !unique.contains(k) && !k.eq_ignore_ascii_case("on") {
                unique.push(k.clone());
            }
        }
        prop_assume!(!unique.is_empty());
        let text = format!("subscribe {}", unique.join(sep));
        match command::parse(&text) {
            Ok(Command::Subscribe { keys: parsed, on: None }) => {
                let parsed: Vec<&str> = parsed.iter().map(|k| k.as_str()).collect();
                prop_assert_eq!(parsed, unique.iter().map(String::as_str).collect::<Vec<_>>());
            }
            other => prop_assert!(false, "{text:?} gave {other:?}"),
        }
    }

    #[test]
    fn slack_verification_never_panics(
        secret in proptest::collection::vec(any::<u8>(), 0..64),
        ts in proptest::option::of(".{0,20}"),
        sig in proptest::option::of(".{0,80}"),
        body in proptest::collection::vec(any::<u8>(), 0..512),
        now in any::<i64>(),
    ) {
        let _ = verify_slack(&secret, ts.as_deref(), sig.as_deref(), &body, now);
    }

    #[test]
    fn slack_signatures_round_trip_and_any_change_breaks_them(
        secret in proptest::collection::vec(any::<u8>(), 1..64),
        ts in 0i64..4_000_000_000,
        skew in -300i64..=300,
        body in proptest::collection::vec(any::<u8>(), 0..512),
        flip in any::<usize>(),
    ) {
        let stamp = ts.to_string();
        let sig = slack_signature(&secret, &stamp, &body);
        prop_assert!(verify_slack(&secret, Some(&stamp), Some(&sig), &body, ts + skew).is_ok());
        prop_assert!(verify_slack(&secret, Some(&stamp), Some(&sig), &body, ts + 301).is_err());
        if !body.is_empty() {
            let mut changed = body.clone();
            let i = flip % changed.len();
            changed[i] ^= 0x01;
            prop_assert!(verify_slack(&secret, Some(&stamp), Some(&sig), &changed, ts).is_err());
        }
    }

    #[test]
    fn sonar_signatures_round_trip(
        secret in proptest::collection::vec(any::<u8>(), 1..64),
        body in proptest::collection::vec(any::<u8>(), 0..512),
        header in proptest::option::of(".{0,80}"),
    ) {
        let sig = sonar_signature(&secret, &body);
        prop_assert!(verify_sonar(&secret, &body, Some(&sig)).is_ok());
        let _ = verify_sonar(&secret, &body, header.as_deref());
    }
}
