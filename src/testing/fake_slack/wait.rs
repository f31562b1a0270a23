//! Waiting for accepted posts, from async tests or from plain threads.

use std::sync::PoisonError;
use std::time::Duration;

use super::{FakeSlack, ReceivedMessage};

impl FakeSlack {
    /// Waits until at least `n` posts were accepted; needs a tokio runtime with timers.
    pub async fn wait_for_messages(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<ReceivedMessage>, String> {
        let mut accepted = self.inner.shared.accepted.subscribe();
        match tokio::time::timeout(timeout, accepted.wait_for(|&count| count >= n)).await {
            Ok(Ok(_)) => Ok(self.messages()),
            _ => Err(self.shortfall(n, timeout)),
        }
    }

    /// Waits until at least `n` posts were accepted, without copying them (long benches).
    pub async fn wait_for_count(&self, n: usize, timeout: Duration) -> Result<(), String> {
        let mut accepted = self.inner.shared.accepted.subscribe();
        match tokio::time::timeout(timeout, accepted.wait_for(|&count| count >= n)).await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(format!(
                "wanted {n} messages within {timeout:?}, got {}",
                self.accepted_count()
            )),
        }
    }

    /// Posts accepted so far.
    pub fn accepted_count(&self) -> usize {
        *self.inner.shared.accepted.borrow()
    }

    /// Blocking `wait_for_messages`; never call it on the runtime thread that sends the posts.
    pub fn wait_for_messages_blocking(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<ReceivedMessage>, String> {
        let shared = &self.inner.shared;
        let (state, _) = (shared.changed)
            .wait_timeout_while(shared.lock(), timeout, |state| state.messages.len() < n)
            .unwrap_or_else(PoisonError::into_inner);
        if state.messages.len() >= n {
            return Ok(state.messages.clone());
        }
        drop(state);
        Err(self.shortfall(n, timeout))
    }

    fn shortfall(&self, n: usize, timeout: Duration) -> String {
        let state = self.lock();
        let got: Vec<_> = state
            .messages
            .iter()
            .map(|m| (&m.channel, &m.text))
            .collect();
        let tried: Vec<_> = state
            .attempts
            .iter()
            .map(|a| (&a.channel, a.status, &a.error))
            .collect();
        let count = got.len();
        format!("wanted {n} messages within {timeout:?}, got {count}: {got:?}; attempts: {tried:?}")
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::FakeSlackConfig;
    use super::super::test_support::{fake, post};

    #[tokio::test]
    async fn wait_for_messages_wakes_on_arrival_and_reports_timeouts() {
        let slack = fake(FakeSlackConfig::default());
        let sender = slack.clone();
        let task = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            post(&sender, "C1", "one").await.status
        });
        let got = slack
            .wait_for_messages(1, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!((got.len(), task.await.unwrap()), (1, 200));
        let error = slack
            .wait_for_messages(2, Duration::from_millis(50))
            .await
            .unwrap_err();
        assert!(
            error.contains("got 1") && error.contains("\"one\""),
            "{error}"
        );
        let waiter = slack.clone();
        let blocking = std::thread::spawn(move || {
            waiter.wait_for_messages_blocking(2, Duration::from_secs(5))
        });
        assert_eq!(post(&slack, "C2", "two").await.status, 200);
        assert_eq!(blocking.join().unwrap().unwrap().len(), 2);
        assert!(
            slack
                .wait_for_messages_blocking(3, Duration::from_millis(20))
                .is_err()
        );
    }
}
