//! What to do after one `chat.postMessage` attempt: Slack's error classes (reference/slack.md §2) as a
//! pure classification, plus the retry schedule.

use std::time::Duration;

/// The parts of Slack's answer that decide what happens next.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlackReply {
    pub status: u16,
    /// The raw `Retry-After` header, if any.
    pub retry_after: Option<String>,
    pub ok: Option<bool>,
    pub error: Option<String>,
    pub ts: Option<String>,
}

/// A request that got no HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportFailure {
    /// It never left (connection refused, DNS failure): retrying cannot duplicate.
    NotSent(String),
    /// It may have reached Slack (timeout, reset after sending): retrying may duplicate.
    Ambiguous(String),
}

/// Slack's `ok:false` error codes, grouped by what the engine must do about them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    RateLimited,
    MayHavePosted,
    RetryMuchLater,
    InstallationBroken,
    TokenExpired,
    RouteBroken,
    MessageBroken,
    Unknown,
}

pub fn classify_error(code: &str) -> ErrorClass {
    match code {
        "ratelimited" | "rate_limited" => ErrorClass::RateLimited,
        "service_unavailable" | "internal_error" | "fatal_error" | "request_timeout" => {
            ErrorClass::MayHavePosted
        }
        "team_added_to_org" | "org_login_required" | "message_limit_exceeded" => {
            ErrorClass::RetryMuchLater
        }
        "invalid_auth"
        | "not_authed"
        | "account_inactive"
        | "token_revoked"
        | "missing_scope"
        | "no_permission"
        | "not_allowed_token_type"
        | "app_access_restricted"
        | "enterprise_is_restricted"
        | "accesslimited" => ErrorClass::InstallationBroken,
        "token_expired" => ErrorClass::TokenExpired,
        "channel_not_found"
        | "not_in_channel"
        | "is_archived"
        | "team_access_not_granted"
        | "ekm_access_denied" => ErrorClass::RouteBroken,
        c if c.starts_with("restricted_action") => ErrorClass::RouteBroken,
        "invalid_blocks"
        | "invalid_blocks_format"
        | "msg_blocks_too_long"
        | "no_text"
        | "invalid_arguments"
        | "invalid_json"
        | "invalid_charset"
        | "msg_too_long"
        | "too_many_attachments" => ErrorClass::MessageBroken,
        _ => ErrorClass::Unknown,
    }
}

/// Retry settings; durations are data so tests and operators can shape them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Wait used when a 429 has no readable `Retry-After`.
    pub default_retry_after: Duration,
    /// Longest `Retry-After` obeyed as given.
    pub max_retry_after: Duration,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// Attempts that may have posted before the delivery is given up as failed.
    pub max_ambiguous_attempts: u32,
    /// Wait for "retry much later" errors.
    pub much_later: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            default_retry_after: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(3600),
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            max_ambiguous_attempts: 5,
            much_later: Duration::from_secs(15 * 60),
        }
    }
}

/// What the channel does next with the message it just tried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Delivered {
        ts: String,
    },
    /// 429: wait and send the same message again; not a failure.
    RateLimited {
        after: Duration,
    },
    /// Nothing was posted; retry after the backoff.
    RetryNotSent {
        reason: String,
    },
    /// Something may have been posted; retry with backoff, counted.
    RetryAmbiguous {
        reason: String,
    },
    RetryMuchLater {
        reason: String,
        after: Duration,
    },
    /// The channel cannot be posted to: disable its subscriptions.
    RouteBroken {
        reason: String,
    },
    /// The workspace's token is unusable: disable the workspace.
    InstallationBroken {
        reason: String,
    },
    /// The rotating bot token expired: refresh it and send again, once. Nothing was posted.
    TokenExpired {
        reason: String,
    },
    /// This message is refused as built: fall back to plain text once, then give up.
    MessageBroken {
        reason: String,
    },
    /// A permanent error for this message.
    Failed {
        reason: String,
    },
}

/// Judges one attempt.
pub fn judge(reply: Result<&SlackReply, &TransportFailure>, policy: &RetryPolicy) -> Verdict {
    let reply = match reply {
        Ok(r) => r,
        Err(TransportFailure::NotSent(why)) => {
            return Verdict::RetryNotSent {
                reason: why.clone(),
            };
        }
        Err(TransportFailure::Ambiguous(why)) => {
            return Verdict::RetryAmbiguous {
                reason: why.clone(),
            };
        }
    };
    if reply.status == 429 {
        return Verdict::RateLimited {
            after: retry_after(reply.retry_after.as_deref(), policy),
        };
    }
    if reply.status >= 500 {
        return Verdict::RetryAmbiguous {
            reason: format!("Slack answered HTTP {}", reply.status),
        };
    }
    if reply.status != 200 {
        return Verdict::RetryNotSent {
            reason: format!(
                "Slack answered HTTP {} (check SONAR_SLACK_SLACK_API_URL)",
                reply.status
            ),
        };
    }
    match (reply.ok, reply.error.as_deref()) {
        (Some(true), _) => Verdict::Delivered {
            ts: reply.ts.clone().unwrap_or_default(),
        },
        (_, Some(code)) => {
            let reason = code.to_owned();
            match classify_error(code) {
                ErrorClass::RateLimited => Verdict::RateLimited {
                    after: retry_after(reply.retry_after.as_deref(), policy),
                },
                ErrorClass::MayHavePosted => Verdict::RetryAmbiguous { reason },
                ErrorClass::RetryMuchLater => Verdict::RetryMuchLater {
                    reason,
                    after: policy.much_later,
                },
                ErrorClass::InstallationBroken => Verdict::InstallationBroken { reason },
                ErrorClass::TokenExpired => Verdict::TokenExpired { reason },
                ErrorClass::RouteBroken => Verdict::RouteBroken { reason },
                ErrorClass::MessageBroken => Verdict::MessageBroken { reason },
                ErrorClass::Unknown => Verdict::Failed { reason },
            }
        }
        _ => Verdict::RetryAmbiguous {
            reason: "Slack answered 200 without ok:true or an error code".into(),
        },
    }
}

/// Reads `Retry-After` (whole seconds); a missing or garbled header falls back to the default.
pub fn retry_after(header: Option<&str>, policy: &RetryPolicy) -> Duration {
    header
        .and_then(|h| h.trim().parse::<u64>().ok())
        .map(|s| Duration::from_secs(s).min(policy.max_retry_after))
        .unwrap_or(policy.default_retry_after)
}

/// Exponential backoff for the `attempt`-th retry (1-based) with "equal jitter": half fixed, half
/// scaled by `jitter` in `[0, 1]`, so retries spread out but never come sooner than half the step.
pub fn backoff(policy: &RetryPolicy, attempt: u32, jitter: f64) -> Duration {
    let exp = attempt.saturating_sub(1).min(20);
    let step = policy
        .backoff_base
        .saturating_mul(1u32 << exp)
        .min(policy.backoff_max);
    let half = step / 2;
    half + half.mul_f64(jitter.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, ok: Option<bool>, error: Option<&str>) -> SlackReply {
        SlackReply {
            status,
            ok,
            error: error.map(Into::into),
            ..Default::default()
        }
    }

    #[test]
    fn every_documented_error_has_its_class() {
        let p = RetryPolicy::default();
        for code in [
            "channel_not_found",
            "not_in_channel",
            "is_archived",
            "restricted_action_read_only_channel",
        ] {
            assert!(
                matches!(
                    judge(Ok(&reply(200, Some(false), Some(code))), &p),
                    Verdict::RouteBroken { .. }
                ),
                "{code}"
            );
        }
        for code in [
            "invalid_auth",
            "token_revoked",
            "account_inactive",
            "missing_scope",
        ] {
            assert!(
                matches!(
                    judge(Ok(&reply(200, Some(false), Some(code))), &p),
                    Verdict::InstallationBroken { .. }
                ),
                "{code}"
            );
        }
        assert!(matches!(
            judge(Ok(&reply(200, Some(false), Some("token_expired"))), &p),
            Verdict::TokenExpired { .. }
        ));
        for code in [
            "service_unavailable",
            "internal_error",
            "fatal_error",
            "request_timeout",
        ] {
            assert!(
                matches!(
                    judge(Ok(&reply(200, Some(false), Some(code))), &p),
                    Verdict::RetryAmbiguous { .. }
                ),
                "{code}"
            );
        }
        for code in ["invalid_blocks", "msg_blocks_too_long", "no_text"] {
            assert!(
                matches!(
                    judge(Ok(&reply(200, Some(false), Some(code))), &p),
                    Verdict::MessageBroken { .. }
                ),
                "{code}"
            );
        }
        assert!(matches!(
            judge(
                Ok(&reply(200, Some(false), Some("message_limit_exceeded"))),
                &p
            ),
            Verdict::RetryMuchLater { .. }
        ));
        assert_eq!(
            judge(Ok(&reply(200, Some(false), Some("brand_new_error"))), &p),
            Verdict::Failed {
                reason: "brand_new_error".into()
            }
        );
    }

    #[test]
    fn rate_limits_obey_retry_after_or_fall_back() {
        let p = RetryPolicy::default();
        let mut r = reply(429, Some(false), Some("ratelimited"));
        r.retry_after = Some("7".into());
        assert_eq!(
            judge(Ok(&r), &p),
            Verdict::RateLimited {
                after: Duration::from_secs(7)
            }
        );
        r.retry_after = Some("soon".into());
        assert_eq!(
            judge(Ok(&r), &p),
            Verdict::RateLimited {
                after: p.default_retry_after
            }
        );
        r.retry_after = None;
        assert_eq!(
            judge(Ok(&r), &p),
            Verdict::RateLimited {
                after: p.default_retry_after
            }
        );
        r.retry_after = Some("999999".into());
        assert_eq!(
            judge(Ok(&r), &p),
            Verdict::RateLimited {
                after: p.max_retry_after
            }
        );
    }

    #[test]
    fn transport_and_status_failures() {
        let p = RetryPolicy::default();
        assert!(matches!(
            judge(Err(&TransportFailure::NotSent("refused".into())), &p),
            Verdict::RetryNotSent { .. }
        ));
        assert!(matches!(
            judge(Err(&TransportFailure::Ambiguous("timeout".into())), &p),
            Verdict::RetryAmbiguous { .. }
        ));
        assert!(matches!(
            judge(Ok(&reply(503, None, None)), &p),
            Verdict::RetryAmbiguous { .. }
        ));
        assert!(matches!(
            judge(Ok(&reply(404, None, None)), &p),
            Verdict::RetryNotSent { .. }
        ));
        let mut ok = reply(200, Some(true), None);
        ok.ts = Some("1.2".into());
        assert_eq!(judge(Ok(&ok), &p), Verdict::Delivered { ts: "1.2".into() });
    }

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let p = RetryPolicy::default();
        assert_eq!(backoff(&p, 1, 0.0), Duration::from_millis(500));
        assert_eq!(backoff(&p, 1, 1.0), Duration::from_secs(1));
        assert_eq!(backoff(&p, 4, 1.0), Duration::from_secs(8));
        assert_eq!(backoff(&p, 30, 1.0), p.backoff_max);
        assert!(backoff(&p, 3, 0.5) > backoff(&p, 3, 0.0));
    }
}
