//! Idle eviction. An actor that has had nothing to do for the configured time offers to stop
//! ([`Idle`], with how many messages it has received); the Registry accepts only if it has routed
//! no more than that to it, so nothing is waiting in its mailbox, forgets it, and tells it to stop
//! ([`Evict`]). The next message for the same key starts a fresh actor, which reads its state from
//! the database. Because the Registry stops routing to an actor before it stops, two actors never
//! serve one key at a time.

use std::time::{Duration, Instant};

use actix::prelude::*;

/// Which actor offers to stop.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ActorKey {
    Project(i64, String),
    Channel(String, String),
}

/// Sent by a ProjectActor or ChannelActor to the Registry when it has been idle long enough.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Idle {
    pub key: ActorKey,
    /// Messages the actor has received from the Registry so far.
    pub received: u64,
}

/// Sent by the Registry once it has forgotten an idle actor: stop now.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Evict;

/// An actor's address in the Registry, with how many messages were routed to it.
pub(super) struct Slot<A: Actor> {
    pub addr: Addr<A>,
    pub sent: u64,
}

impl<A: Actor> Slot<A> {
    pub fn new(addr: Addr<A>) -> Self {
        Self { addr, sent: 0 }
    }
}

/// The actor's side: when it was last busy, what it has received, and whether a check is due.
#[derive(Debug)]
pub(super) struct IdleClock {
    after: Duration,
    last: Instant,
    received: u64,
    armed: bool,
}

impl IdleClock {
    /// An actor idle for `after` offers to stop.
    pub fn new(after: Duration) -> Self {
        Self {
            after,
            last: Instant::now(),
            received: 0,
            armed: false,
        }
    }

    /// A message from the Registry arrived.
    pub fn received(&mut self) {
        self.received += 1;
        self.touch();
    }

    /// Work was done (a message handled, a delivery finished).
    pub fn touch(&mut self) {
        self.last = Instant::now();
    }

    /// How long to wait before the next check, or `None` when it is time to offer to stop.
    fn due(&self) -> Option<Duration> {
        let idle_for = self.last.elapsed();
        (idle_for < self.after).then(|| self.after - idle_for)
    }
}

/// An actor that can be evicted when idle.
pub(super) trait Evictable: Actor<Context = Context<Self>> {
    fn clock(&mut self) -> &mut IdleClock;
    /// Nothing queued, in flight or waiting (a pacing wait counts as work).
    fn at_rest(&self) -> bool;
    fn key(&self) -> ActorKey;
    fn registry(&self) -> Recipient<Idle>;

    /// Schedules the next idle check unless one is pending. Call at start and after each message.
    fn arm(&mut self, ctx: &mut Context<Self>) {
        let clock = self.clock();
        if clock.armed {
            return;
        }
        clock.armed = true;
        let wait = clock.due().unwrap_or(clock.after);
        ctx.run_later(wait, |act, ctx| {
            act.clock().armed = false;
            match act.clock().due() {
                None if act.at_rest() => {
                    let received = act.clock().received;
                    // Declined (a message is on its way): that message arms the next check.
                    act.registry().do_send(Idle {
                        key: act.key(),
                        received,
                    });
                }
                _ => act.arm(ctx),
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_counts_messages_and_restarts_on_work() {
        let mut clock = IdleClock::new(Duration::from_secs(60));
        assert!(clock.due().is_some(), "just started: not idle yet");
        clock.received();
        clock.received();
        assert_eq!(clock.received, 2);
        clock.last = Instant::now() - Duration::from_secs(61);
        assert_eq!(clock.due(), None, "idle for longer than the limit");
        clock.touch();
        let wait = clock.due().expect("work restarts the clock");
        assert!(wait > Duration::from_secs(59), "{wait:?}");
    }
}
