//! Whether an operator's retry of a failed delivery can work, and what to tell them when it cannot.

/// Where a delivery was going, for the commands a refusal names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub team: String,
    pub channel: String,
    pub project: String,
}

/// The state of the delivery's subscription or workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    Active,
    Disabled(String),
    /// The row is gone (removed), or for a workspace, not added yet.
    Missing,
}

/// What is known about one delivery when a retry is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryFacts {
    /// `pending`, `sent` or `failed`.
    pub status: String,
    pub subscription: Standing,
    pub workspace: Standing,
    pub ambiguous_attempts: u32,
    /// The configured bound on attempts that may have posted.
    pub max_ambiguous: u32,
    /// The operator accepts that Slack may show the message twice.
    pub even_if_posted: bool,
}

/// Why a retry is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    NotFailed(String),
    SubscriptionRemoved,
    SubscriptionDisabled(String),
    WorkspaceDisabled(String),
    MayHavePosted { attempts: u32, bound: u32 },
}

/// The verdict on one retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetryCheck {
    /// Put it back to pending; `reset_ambiguous` when the operator overrode the bound.
    Retry {
        reset_ambiguous: bool,
        /// Earlier attempts that may have posted (worth a warning when non-zero).
        maybe_posted: u32,
    },
    Refuse(Refusal),
}

/// Decides a retry. A delivery that may already be in Slack as often as the bound allows is never
/// sent again without the operator saying so.
pub fn check_retry(f: &RetryFacts) -> RetryCheck {
    if f.status != "failed" {
        return RetryCheck::Refuse(Refusal::NotFailed(f.status.clone()));
    }
    match &f.subscription {
        Standing::Missing => return RetryCheck::Refuse(Refusal::SubscriptionRemoved),
        Standing::Disabled(_) | Standing::Active => {}
    }
    if let Standing::Disabled(reason) = &f.workspace {
        return RetryCheck::Refuse(Refusal::WorkspaceDisabled(reason.clone()));
    }
    if let Standing::Disabled(reason) = &f.subscription {
        return RetryCheck::Refuse(Refusal::SubscriptionDisabled(reason.clone()));
    }
    let exhausted = f.ambiguous_attempts >= f.max_ambiguous;
    if exhausted && !f.even_if_posted {
        return RetryCheck::Refuse(Refusal::MayHavePosted {
            attempts: f.ambiguous_attempts,
            bound: f.max_ambiguous,
        });
    }
    RetryCheck::Retry {
        reset_ambiguous: exhausted,
        maybe_posted: f.ambiguous_attempts,
    }
}

impl Refusal {
    /// What went wrong and what to do, naming the command to run.
    pub fn explain(&self, route: &Route) -> String {
        let Route {
            team,
            channel,
            project,
        } = route;
        match self {
            Refusal::NotFailed(status) if status == "sent" => {
                "it was sent already; nothing to retry".to_owned()
            }
            Refusal::NotFailed(status) => format!(
                "it is {status}, not failed: the service sends pending deliveries by itself (every sweep, or at its next start)"
            ),
            Refusal::SubscriptionRemoved => format!(
                "its subscription ({channel} in {team} to {project}) was removed, so it is not sent again; `sonar-slack subscriptions add --team-id {team} --channel-id {channel} --project {project}` subscribes the channel again for later messages"
            ),
            Refusal::SubscriptionDisabled(reason) => format!(
                "its subscription is disabled ({reason}); fix the channel, then re-enable it with `sonar-slack subscriptions enable --team-id {team} --channel-id {channel}` and retry"
            ),
            Refusal::WorkspaceDisabled(reason) => format!(
                "workspace {team} is disabled ({reason}); reinstall the app (/slack/install) or run `sonar-slack workspaces add --team-id {team}` with a new token, then retry"
            ),
            Refusal::MayHavePosted { attempts, bound } => format!(
                "it may already be in Slack: {attempts} attempts may have posted (the bound is {bound}); check the channel, and if it is not there, retry with --even-if-posted"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> RetryFacts {
        RetryFacts {
            status: "failed".into(),
            subscription: Standing::Active,
            workspace: Standing::Active,
            ambiguous_attempts: 0,
            max_ambiguous: 5,
            even_if_posted: false,
        }
    }

    #[test]
    fn a_failed_delivery_on_a_working_route_is_retried() {
        assert_eq!(
            check_retry(&facts()),
            RetryCheck::Retry {
                reset_ambiguous: false,
                maybe_posted: 0
            }
        );
        // A workspace not added yet is no reason to refuse: the delivery waits for it.
        let f = RetryFacts {
            workspace: Standing::Missing,
            ambiguous_attempts: 2,
            ..facts()
        };
        assert_eq!(
            check_retry(&f),
            RetryCheck::Retry {
                reset_ambiguous: false,
                maybe_posted: 2
            }
        );
    }

    #[test]
    fn sent_pending_removed_and_disabled_routes_are_refused() {
        for status in ["sent", "pending"] {
            let f = RetryFacts {
                status: status.into(),
                ..facts()
            };
            assert_eq!(
                check_retry(&f),
                RetryCheck::Refuse(Refusal::NotFailed(status.into()))
            );
        }
        let f = RetryFacts {
            subscription: Standing::Missing,
            ..facts()
        };
        assert_eq!(
            check_retry(&f),
            RetryCheck::Refuse(Refusal::SubscriptionRemoved)
        );
        // Both disabled: the workspace comes first, re-enabling the channel would not help.
        let f = RetryFacts {
            subscription: Standing::Disabled("not_in_channel".into()),
            workspace: Standing::Disabled("token_revoked".into()),
            ..facts()
        };
        assert_eq!(
            check_retry(&f),
            RetryCheck::Refuse(Refusal::WorkspaceDisabled("token_revoked".into()))
        );
        let f = RetryFacts {
            subscription: Standing::Disabled("not_in_channel".into()),
            ..facts()
        };
        assert_eq!(
            check_retry(&f),
            RetryCheck::Refuse(Refusal::SubscriptionDisabled("not_in_channel".into()))
        );
    }

    #[test]
    fn the_ambiguous_bound_holds_unless_overridden() {
        let f = RetryFacts {
            ambiguous_attempts: 5,
            ..facts()
        };
        assert_eq!(
            check_retry(&f),
            RetryCheck::Refuse(Refusal::MayHavePosted {
                attempts: 5,
                bound: 5
            })
        );
        let f = RetryFacts {
            ambiguous_attempts: 4,
            ..facts()
        };
        assert!(matches!(
            check_retry(&f),
            RetryCheck::Retry {
                reset_ambiguous: false,
                maybe_posted: 4
            }
        ));
        let f = RetryFacts {
            ambiguous_attempts: 7,
            even_if_posted: true,
            ..facts()
        };
        assert_eq!(
            check_retry(&f),
            RetryCheck::Retry {
                reset_ambiguous: true,
                maybe_posted: 7
            }
        );
    }

    #[test]
    fn refusals_name_the_command_to_run() {
        let route = Route {
            team: "T1".into(),
            channel: "C1".into(),
            project: "p".into(),
        };
        let text = Refusal::SubscriptionDisabled("x".into()).explain(&route);
        assert!(
            text.contains("subscriptions enable --team-id T1 --channel-id C1"),
            "{text}"
        );
        let text = Refusal::WorkspaceDisabled("x".into()).explain(&route);
        assert!(text.contains("workspaces add --team-id T1"), "{text}");
        let text = Refusal::MayHavePosted {
            attempts: 5,
            bound: 5,
        }
        .explain(&route);
        assert!(text.contains("--even-if-posted"), "{text}");
        let text = Refusal::SubscriptionRemoved.explain(&route);
        assert!(text.contains("subscriptions add --team-id T1"), "{text}");
    }
}
