//! Slack's posting limits as governor quotas: one limiter per channel (≈1 msg/s) and one per
//! workspace (a per-minute cap), plus the workspace-wide pause a 429 imposes.

use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// The configured pace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pacing {
    pub channel_per_second: NonZeroU32,
    pub channel_burst: NonZeroU32,
    pub workspace_per_minute: NonZeroU32,
}

impl Pacing {
    /// Settings are validated to be ≥ 1; a 0 still yields the slowest legal pace rather than a panic.
    pub fn new(channel_per_second: u32, channel_burst: u32, workspace_per_minute: u32) -> Self {
        let nz = |v: u32| NonZeroU32::new(v).unwrap_or(NonZeroU32::MIN);
        Self {
            channel_per_second: nz(channel_per_second),
            channel_burst: nz(channel_burst),
            workspace_per_minute: nz(workspace_per_minute),
        }
    }

    /// The time between two posts to one channel at the configured pace.
    pub fn channel_interval(&self) -> Duration {
        Duration::from_secs(1) / self.channel_per_second.get()
    }

    /// How long an unused channel limiter takes to fill up again (its whole burst). A channel
    /// actor idle for less must not be replaced by a fresh, full limiter.
    pub fn channel_refill(&self) -> Duration {
        self.channel_interval() * self.channel_burst.get()
    }

    pub fn channel_quota(&self) -> Quota {
        Quota::per_second(self.channel_per_second).allow_burst(self.channel_burst)
    }

    /// The per-minute cap, with bursts of a tenth of it so that no minute sees much more.
    pub fn workspace_quota(&self) -> Quota {
        let burst =
            NonZeroU32::new(self.workspace_per_minute.get() / 10).unwrap_or(NonZeroU32::MIN);
        Quota::per_minute(self.workspace_per_minute).allow_burst(burst)
    }
}

/// One workspace's shared limiter and 429 pause.
#[derive(Debug)]
pub struct WorkspaceGate {
    pub limiter: DefaultDirectRateLimiter,
    paused_until: Mutex<Option<Instant>>,
}

impl WorkspaceGate {
    pub fn new(pacing: &Pacing) -> Self {
        Self {
            limiter: RateLimiter::direct(pacing.workspace_quota()),
            paused_until: Mutex::new(None),
        }
    }

    /// Slack's `Retry-After` applies to the method in the whole workspace: every channel waits.
    pub fn pause(&self, for_: Duration) {
        let until = Instant::now() + for_;
        let mut p = self.paused_until.lock().unwrap_or_else(|e| e.into_inner());
        *p = Some(p.map_or(until, |old| old.max(until)));
    }

    /// How long posting must still wait.
    pub fn remaining_pause(&self) -> Option<Duration> {
        let p = self.paused_until.lock().unwrap_or_else(|e| e.into_inner());
        p.and_then(|until| until.checked_duration_since(Instant::now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    #[test]
    fn channel_quota_allows_one_per_second_by_default() {
        let clock = FakeRelativeClock::default();
        let limiter =
            RateLimiter::direct_with_clock(Pacing::new(1, 1, 100).channel_quota(), clock.clone());
        assert!(limiter.check().is_ok());
        assert!(
            limiter.check().is_err(),
            "a second post in the same second must wait"
        );
        clock.advance(Duration::from_millis(999));
        assert!(limiter.check().is_err());
        clock.advance(Duration::from_millis(1));
        assert!(limiter.check().is_ok());
    }

    #[test]
    fn burst_is_configurable() {
        let clock = FakeRelativeClock::default();
        let limiter =
            RateLimiter::direct_with_clock(Pacing::new(1, 3, 100).channel_quota(), clock.clone());
        for _ in 0..3 {
            assert!(limiter.check().is_ok());
        }
        assert!(limiter.check().is_err());
    }

    #[test]
    fn a_limiter_idle_for_its_refill_time_is_as_full_as_a_fresh_one() {
        let pacing = Pacing::new(2, 3, 100);
        assert_eq!(pacing.channel_refill(), Duration::from_millis(1500));
        let clock = FakeRelativeClock::default();
        let used = RateLimiter::direct_with_clock(pacing.channel_quota(), clock.clone());
        for _ in 0..3 {
            assert!(used.check().is_ok());
        }
        clock.advance(pacing.channel_refill() - Duration::from_millis(1));
        let burst = NonZeroU32::new(3).unwrap();
        assert!(!matches!(used.check_n(burst), Ok(Ok(()))), "not full yet");
        clock.advance(Duration::from_millis(1));
        assert!(matches!(used.check_n(burst), Ok(Ok(()))), "full again");
    }

    #[test]
    fn workspace_quota_caps_per_minute() {
        let clock = FakeRelativeClock::default();
        let limiter =
            RateLimiter::direct_with_clock(Pacing::new(1, 1, 100).workspace_quota(), clock.clone());
        let mut allowed = 0;
        // One attempt every 100 ms for a minute: a burst of 10, then one every 600 ms.
        for _ in 0..600 {
            if limiter.check().is_ok() {
                allowed += 1;
            }
            clock.advance(Duration::from_millis(100));
        }
        assert!((100..=110).contains(&allowed), "{allowed} in a minute");
    }

    #[test]
    fn pauses_extend_but_never_shorten() {
        let gate = WorkspaceGate::new(&Pacing::new(1, 1, 100));
        assert!(gate.remaining_pause().is_none());
        gate.pause(Duration::from_secs(30));
        gate.pause(Duration::from_secs(1));
        assert!(gate.remaining_pause().unwrap() > Duration::from_secs(20));
    }
}
