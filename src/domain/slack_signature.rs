//! Slack request signatures (`X-Slack-Signature: v0=<hex>` over `v0:{timestamp}:{raw body}`, with
//! `X-Slack-Request-Timestamp` at most 300 s away), checked in constant time over the raw bytes.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// The largest accepted distance, in seconds, between the request's timestamp and this server's
/// clock. Exactly 300 s is accepted, 301 s is refused (Slack's rule).
pub const MAX_SKEW_SECS: i64 = 300;

/// Why a Slack request was refused. Never carries the secret or the expected signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SlackSignatureError {
    #[error(
        "the X-Slack-Request-Timestamp header is missing: Slack always sends it, so this request \
         did not come from Slack, or a proxy dropped the header"
    )]
    MissingTimestamp,
    #[error(
        "the X-Slack-Request-Timestamp header is not a whole number of seconds since 1970: \
         Slack sends digits only, so this request did not come from Slack, or a proxy changed it"
    )]
    BadTimestamp,
    /// `skew_secs` is this server's clock minus the request's timestamp: positive when the
    /// request is older than the clock, negative when it claims to come from the future.
    #[error(
        "the X-Slack-Request-Timestamp is {} s away from this server's clock (at most {MAX_SKEW_SECS} s \
         allowed): check the server clock (NTP), or this is a replayed request",
        skew_secs.unsigned_abs()
    )]
    Stale { skew_secs: i64 },
    #[error(
        "the X-Slack-Signature header is missing or empty: Slack always sends it, so this request \
         did not come from Slack, or a proxy dropped the header"
    )]
    MissingSignature,
    #[error(
        "the X-Slack-Signature header does not match the body signed with the configured signing \
         secret: check SONAR_SLACK_SLACK_SIGNING_SECRET is the app's Signing Secret (Basic \
         Information page, not the client secret or a token), and that nothing between Slack and \
         this server rewrites the body"
    )]
    Mismatch,
}

/// `v0=` followed by the lowercase hex HMAC-SHA256, keyed with `secret`, of
/// `v0:{timestamp}:{body}`. `body` is the raw request body, exactly as received.
pub fn slack_signature(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret).unwrap_or_else(|_| {
        // HMAC accepts keys of any length; this branch cannot be reached.
        unreachable!("HMAC-SHA256 takes keys of any length")
    });
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks a Slack request: both headers present, the timestamp within [`MAX_SKEW_SECS`] of
/// `now_unix`, and the signature equal (in constant time) to [`slack_signature`] over the raw
/// `body`.
///
/// The signature is compared exactly as Slack sends it (`v0=` and lowercase hex), as Slack's own
/// SDKs do; the timestamp must be ASCII digits only.
pub fn verify_slack(
    secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now_unix: i64,
) -> Result<(), SlackSignatureError> {
    let timestamp = timestamp
        .filter(|t| !t.trim().is_empty())
        .ok_or(SlackSignatureError::MissingTimestamp)?;
    let signature = signature
        .filter(|s| !s.trim().is_empty())
        .ok_or(SlackSignatureError::MissingSignature)?;
    let sent_at = parse_timestamp(timestamp).ok_or(SlackSignatureError::BadTimestamp)?;
    let skew_secs = now_unix.saturating_sub(sent_at);
    if skew_secs.unsigned_abs() > MAX_SKEW_SECS.unsigned_abs() {
        return Err(SlackSignatureError::Stale { skew_secs });
    }
    let expected = slack_signature(secret, timestamp, body);
    // `ct_eq` on slices of different lengths returns false without looking at the contents; the
    // length of the expected value (always 67) is no secret.
    if bool::from(signature.as_bytes().ct_eq(expected.as_bytes())) {
        Ok(())
    } else {
        Err(SlackSignatureError::Mismatch)
    }
}

/// Unix seconds from ASCII digits only (no sign, spaces or underscores); `None` when out of range.
fn parse_timestamp(raw: &str) -> Option<i64> {
    if raw.is_empty() || raw.len() > 18 || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    raw.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    // https://docs.slack.dev/authentication/verifying-requests-from-slack (slack.md §4).
    const DOC_SECRET: &[u8] = b"8f742231b10e8888abcd99yyyzzz85a5";
    const DOC_TS: &str = "1531420618";
    const DOC_BODY: &[u8] = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const DOC_SIG: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
    const DOC_NOW: i64 = 1_531_420_618;

    fn check(
        ts: Option<&str>,
        sig: Option<&str>,
        body: &[u8],
        now: i64,
    ) -> Result<(), SlackSignatureError> {
        verify_slack(DOC_SECRET, ts, sig, body, now)
    }

    #[test]
    fn matches_slacks_documented_vector() {
        assert_eq!(slack_signature(DOC_SECRET, DOC_TS, DOC_BODY), DOC_SIG);
        assert_eq!(
            check(Some(DOC_TS), Some(DOC_SIG), DOC_BODY, DOC_NOW),
            Ok(())
        );
    }

    #[test]
    fn exactly_300_s_either_way_is_accepted_301_is_not() {
        for offset in [-300, -299, -1, 0, 1, 299, 300] {
            assert_eq!(
                check(Some(DOC_TS), Some(DOC_SIG), DOC_BODY, DOC_NOW + offset),
                Ok(()),
                "offset {offset}"
            );
        }
        assert_eq!(
            check(Some(DOC_TS), Some(DOC_SIG), DOC_BODY, DOC_NOW + 301),
            Err(SlackSignatureError::Stale { skew_secs: 301 })
        );
        assert_eq!(
            check(Some(DOC_TS), Some(DOC_SIG), DOC_BODY, DOC_NOW - 301),
            Err(SlackSignatureError::Stale { skew_secs: -301 })
        );
        assert!(matches!(
            check(Some(DOC_TS), Some(DOC_SIG), DOC_BODY, i64::MAX),
            Err(SlackSignatureError::Stale { .. })
        ));
        assert!(matches!(
            check(Some(DOC_TS), Some(DOC_SIG), DOC_BODY, i64::MIN),
            Err(SlackSignatureError::Stale { .. })
        ));
    }

    #[test]
    fn missing_headers_are_named() {
        assert_eq!(
            check(None, Some(DOC_SIG), DOC_BODY, DOC_NOW),
            Err(SlackSignatureError::MissingTimestamp)
        );
        assert_eq!(
            check(Some(" "), Some(DOC_SIG), DOC_BODY, DOC_NOW),
            Err(SlackSignatureError::MissingTimestamp)
        );
        assert_eq!(
            check(Some(DOC_TS), None, DOC_BODY, DOC_NOW),
            Err(SlackSignatureError::MissingSignature)
        );
        assert_eq!(
            check(Some(DOC_TS), Some(""), DOC_BODY, DOC_NOW),
            Err(SlackSignatureError::MissingSignature)
        );
        assert_eq!(
            check(None, None, DOC_BODY, DOC_NOW),
            Err(SlackSignatureError::MissingTimestamp)
        );
    }

    #[test]
    fn garbage_timestamps_are_refused() {
        for ts in [
            "abc",
            "1531420618.5",
            "-1531420618",
            "+1531420618",
            " 1531420618",
            "1531420618 ",
            "1_531_420_618",
            "0x5b47b0ca",
            "１５３１４２０６１８", // full-width digits
            "99999999999999999999999",
        ] {
            assert_eq!(
                check(Some(ts), Some(DOC_SIG), DOC_BODY, DOC_NOW),
                Err(SlackSignatureError::BadTimestamp),
                "{ts:?}"
            );
        }
        // A well-formed but very old timestamp is stale, not bad.
        assert!(matches!(
            check(Some("0"), Some(DOC_SIG), DOC_BODY, DOC_NOW),
            Err(SlackSignatureError::Stale { skew_secs: DOC_NOW })
        ));
    }

    #[test]
    fn signs_raw_bytes_including_non_ascii_and_invalid_utf8() {
        let bodies: [&[u8]; 5] = [
            "text=é✓🚀".as_bytes(),
            br#"{"text":"caf\u00e9"}"#,
            b"\xff\xfe\x00raw",
            b"\xc3",
            b"",
        ];
        for body in bodies {
            let sig = slack_signature(b"secret", "100", body);
            assert_eq!(
                verify_slack(b"secret", Some("100"), Some(&sig), body, 100),
                Ok(())
            );
            // Any lossy decoding would make these two bodies sign alike; they must not.
            let lossy = String::from_utf8_lossy(body).into_owned();
            if lossy.as_bytes() != body {
                assert_ne!(slack_signature(b"secret", "100", lossy.as_bytes()), sig);
                assert_eq!(
                    verify_slack(b"secret", Some("100"), Some(&sig), lossy.as_bytes(), 100),
                    Err(SlackSignatureError::Mismatch)
                );
            }
        }
        // Computed independently: `printf 'v0:100:\xff\xfe' | openssl dgst -sha256 -hmac secret`
        assert_eq!(
            slack_signature(b"secret", "100", b"\xff\xfe"),
            "v0=1fd7b25e378c0af716bb2549abfba201c7da2e47e5e1fe4ca6fee33dc6048706"
        );
    }

    #[test]
    fn tampering_is_a_mismatch() {
        let mut body = DOC_BODY.to_vec();
        body[10] ^= 1;
        assert_eq!(
            check(Some(DOC_TS), Some(DOC_SIG), &body, DOC_NOW),
            Err(SlackSignatureError::Mismatch)
        );
        assert_eq!(
            verify_slack(
                b"another secret",
                Some(DOC_TS),
                Some(DOC_SIG),
                DOC_BODY,
                DOC_NOW
            ),
            Err(SlackSignatureError::Mismatch)
        );
        assert_eq!(
            check(Some("1531420619"), Some(DOC_SIG), DOC_BODY, DOC_NOW),
            Err(SlackSignatureError::Mismatch)
        );
    }

    #[test]
    fn signature_must_be_exact() {
        let upper = format!("v0={}", DOC_SIG[3..].to_uppercase());
        let bare = &DOC_SIG[3..];
        let truncated = &DOC_SIG[..DOC_SIG.len() - 1];
        let longer = format!("{DOC_SIG}0");
        let v1 = DOC_SIG.replacen("v0=", "v1=", 1);
        let spaced = format!(" {DOC_SIG}");
        let non_ascii = DOC_SIG.replacen('a', "é", 1);
        for sig in [
            upper.as_str(),
            "V0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
            bare,
            truncated,
            &longer,
            &v1,
            &spaced,
            &non_ascii,
            "v0=",
            "garbage",
            "🚀",
        ] {
            assert_eq!(
                check(Some(DOC_TS), Some(sig), DOC_BODY, DOC_NOW),
                Err(SlackSignatureError::Mismatch),
                "{sig:?}"
            );
        }
    }

    #[test]
    fn errors_explain_and_never_leak() {
        let stale = SlackSignatureError::Stale { skew_secs: -301 }.to_string();
        assert!(stale.contains("301 s away"), "{stale}");
        assert!(stale.contains("NTP"), "{stale}");
        let mismatch = SlackSignatureError::Mismatch.to_string();
        assert!(
            mismatch.contains("SONAR_SLACK_SLACK_SIGNING_SECRET"),
            "{mismatch}"
        );
        assert!(mismatch.contains("Basic Information"), "{mismatch}");
        for e in [
            SlackSignatureError::MissingTimestamp,
            SlackSignatureError::BadTimestamp,
            SlackSignatureError::Stale { skew_secs: 400 },
            SlackSignatureError::MissingSignature,
            SlackSignatureError::Mismatch,
        ] {
            let text = format!("{e} {e:?}");
            assert!(!text.contains("8f742231"), "{text}");
            assert!(!text.contains("a2114d57"), "{text}");
            assert!(!text.contains("v0="), "{text}");
        }
    }
}
