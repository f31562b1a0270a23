//! Our Slack signature check against an independent oracle: PyPI `slack_sdk`'s
//! `SignatureVerifier`, driven by `tests/oracle/slack_signatures.py` with random cases.
//!
//! The interpreter is `$SONAR_SLACK_TEST_PYTHON`; by default the test sets up
//! `target/oracle-venv` itself (`python3 -m venv`, then `pip install slack_sdk`, as `.ci/run` does),
//! so `cargo test` needs no manual step. When that cannot be done (no Python, no network) the test
//! is skipped with a notice, unless `$SONAR_SLACK_TEST_REQUIRE_ORACLE` is set (CI sets it), in which
//! case it fails.

use std::io::Write;
use std::process::Command;

use base64::Engine;
use sonar_slack::domain::slack_signature::{MAX_SKEW_SECS, slack_signature, verify_slack};

const CASES: usize = 1200;
const MIN_CASES: usize = 1000;
const DEFAULT_SEED: u64 = 20240531;
/// The script's exit code when `slack_sdk` cannot be imported.
const EXIT_NO_SLACK_SDK: i32 = 3;

#[derive(Debug, serde::Deserialize)]
struct Case {
    secret: String,
    timestamp: Option<String>,
    now: i64,
    body_b64: String,
    signature: Option<String>,
    valid: bool,
    kind: String,
    offset: Option<i64>,
    verdict_by: String,
    signature_by: String,
}

/// Goes straight to the process's stderr, past the test harness's capture, so CI logs show it.
fn notice(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}

/// Skips (with a notice) or fails, depending on `SONAR_SLACK_TEST_REQUIRE_ORACLE`.
fn unavailable(why: &str) {
    if std::env::var_os("SONAR_SLACK_TEST_REQUIRE_ORACLE").is_some() {
        panic!(
            "the slack_sdk signature oracle is required (SONAR_SLACK_TEST_REQUIRE_ORACLE is set) \
             but unavailable: {why}. Point SONAR_SLACK_TEST_PYTHON at a Python that has slack_sdk \
             (`python3 -m venv v && v/bin/pip install slack_sdk`); .ci/run does this in \
             target/oracle-venv"
        );
    }
    notice(&format!(
        "signature_oracle: SKIPPED, {why}. Set SONAR_SLACK_TEST_PYTHON to a Python with slack_sdk \
         installed to run it (SONAR_SLACK_TEST_REQUIRE_ORACLE=1 makes this a failure)"
    ));
}

/// The pinned oracle, as in `.ci/run`.
const SLACK_SDK: &str = "slack_sdk==3.48.0";

/// `$SONAR_SLACK_TEST_PYTHON`, else `target/oracle-venv`'s Python, created with `slack_sdk` if needed.
fn oracle_python() -> Result<String, String> {
    if let Ok(python) = std::env::var("SONAR_SLACK_TEST_PYTHON") {
        return Ok(python);
    }
    let venv = concat!(env!("CARGO_MANIFEST_DIR"), "/target/oracle-venv");
    let python = format!("{venv}/bin/python");
    let has_sdk = || {
        Command::new(&python)
            .args(["-c", "import slack_sdk"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if has_sdk() {
        return Ok(python);
    }
    notice(&format!(
        "signature_oracle: setting up {venv} with {SLACK_SDK}"
    ));
    let run = |cmd: &mut Command| -> Result<(), String> {
        let out = cmd
            .output()
            .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{cmd:?} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    };
    if !std::path::Path::new(&python).exists() {
        run(Command::new("python3").args(["-m", "venv", venv]))?;
    }
    let pip = format!("{venv}/bin/pip");
    run(Command::new(&pip).args([
        "install",
        "--quiet",
        "--disable-pip-version-check",
        SLACK_SDK,
    ]))?;
    if has_sdk() {
        Ok(python)
    } else {
        Err(format!("{SLACK_SDK} did not install into {venv}"))
    }
}

#[test]
fn verify_slack_agrees_with_slack_sdk() {
    let python = match oracle_python() {
        Ok(p) => p,
        Err(why) => return unavailable(&why),
    };
    let seed = std::env::var("SONAR_SLACK_TEST_ORACLE_SEED")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(DEFAULT_SEED);
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/oracle/slack_signatures.py"
    );
    let out = match Command::new(&python)
        .args([script, &CASES.to_string(), &seed.to_string()])
        .output()
    {
        Ok(out) => out,
        Err(e) => return unavailable(&format!("cannot run {python:?}: {e}")),
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(EXIT_NO_SLACK_SDK) {
        return unavailable(stderr.trim());
    }
    assert!(
        out.status.success(),
        "{script} failed ({}): {stderr}",
        out.status
    );

    let stdout = String::from_utf8(out.stdout).expect("the oracle prints ASCII JSON lines");
    let cases: Vec<Case> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    assert!(
        cases.len() >= MIN_CASES,
        "only {} cases from the oracle",
        cases.len()
    );

    let b64 = base64::engine::general_purpose::STANDARD;
    let mut disagreements = Vec::new();
    let (mut valid, mut by_sdk, mut signed_by_sdk, mut at_300, mut at_301) = (0, 0, 0, 0, 0);
    for (i, case) in cases.iter().enumerate() {
        let body = b64.decode(&case.body_b64).expect("body_b64 is base64");
        let ours = verify_slack(
            case.secret.as_bytes(),
            case.timestamp.as_deref(),
            case.signature.as_deref(),
            &body,
            case.now,
        );
        if ours.is_ok() != case.valid {
            disagreements.push(format!(
                "case {i} ({}, offset {:?}): oracle says valid={}, we say {ours:?}",
                case.kind, case.offset, case.valid
            ));
        }
        if case.valid {
            valid += 1;
            // A valid case's signature is the oracle's own; we must produce the same string.
            if let (Some(ts), Some(sig)) = (&case.timestamp, &case.signature) {
                let mine = slack_signature(case.secret.as_bytes(), ts, &body);
                if &mine != sig {
                    disagreements.push(format!(
                        "case {i} ({}): oracle signs {sig}, we sign {mine}",
                        case.kind
                    ));
                }
            }
        }
        by_sdk += usize::from(case.verdict_by == "slack_sdk");
        signed_by_sdk += usize::from(case.valid && case.signature_by == "slack_sdk");
        match case.offset.map(i64::unsigned_abs) {
            Some(d) if d == MAX_SKEW_SECS.unsigned_abs() => at_300 += 1,
            Some(d) if d == MAX_SKEW_SECS.unsigned_abs() + 1 => at_301 += 1,
            _ => {}
        }
    }

    notice(&format!(
        "signature_oracle: {} cases (seed {seed}, {}), {valid} valid / {} invalid; \
         {by_sdk} judged by slack_sdk itself, {} by the same rule in Python's hmac (bodies that \
         are not UTF-8, on which slack_sdk raises); {signed_by_sdk} valid signatures made by \
         slack_sdk; {at_300} at ±300 s, {at_301} at ±301 s; {} disagreements",
        cases.len(),
        stderr.trim(),
        cases.len() - valid,
        cases.len() - by_sdk,
        disagreements.len(),
    ));
    assert!(
        disagreements.is_empty(),
        "{} of {} cases disagree with slack_sdk (seed {seed}):\n{}",
        disagreements.len(),
        cases.len(),
        disagreements
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        by_sdk >= MIN_CASES,
        "only {by_sdk} cases were judged by slack_sdk"
    );
    assert!(
        valid > 0 && valid < cases.len() && at_300 > 0 && at_301 > 0,
        "the cases miss a class (valid {valid}, ±300 {at_300}, ±301 {at_301})"
    );
}
