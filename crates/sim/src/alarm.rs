//! [`Alarm`]: a simulated-time deadline that asks madsim's timer once per deadline.
//!
//! madsim's `Sleep` registers a new timer every time it is polled while pending, and a
//! `sleep_until` rounds anything under 1 ms up to 1 ms. A member's loop waits on "the next
//! message or the next tick" and is woken by every message, so with `Sleep` each message
//! left one more timer behind, all firing at the tick (ten times more timers than ticks in
//! the standard chaos run). An alarm registers its timer on the first poll for a deadline
//! and then only checks the clock; it fires at the exact deadline, even under 1 ms away.

use madsim::time::{Instant, Sleep, TimeHandle};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// A deadline in simulated time; awaiting it (or a `&mut` to it) completes at the
/// deadline. Poll it from one task only: the timer wakes the task that first polled it
/// for the current deadline.
#[derive(Debug)]
pub struct Alarm {
    sleep: Sleep,
    armed: bool,
}

impl Alarm {
    /// An alarm at `deadline` (already due if the deadline has passed).
    pub fn at(deadline: Instant) -> Alarm {
        let mut sleep = crate::clock::with(|time| time.sleep(Duration::ZERO));
        Pin::new(&mut sleep).reset(deadline);
        Alarm {
            sleep,
            armed: false,
        }
    }

    /// An alarm `after` from now.
    pub fn after(after: Duration) -> Alarm {
        Alarm::at(crate::clock::with(TimeHandle::now_instant) + after)
    }

    /// Moves the deadline.
    pub fn reset(&mut self, deadline: Instant) {
        Pin::new(&mut self.sleep).reset(deadline);
        self.armed = false;
    }
}

/// Wake-ups on request for a task that keeps its own queue of deadlines (the world's
/// router): each request registers one madsim timer, through one `Sleep` kept for the
/// run (a new one per request cost a time-handle clone and drop each time).
#[derive(Debug, Default)]
pub(crate) struct WakeUps {
    sleep: Option<Sleep>,
}

impl WakeUps {
    /// Has madsim's timer wake `waker` once, exactly `after` from now (at once if zero).
    pub(crate) fn wake_after(&mut self, after: Duration, waker: &Waker) {
        let sleep = self
            .sleep
            .get_or_insert_with(|| crate::clock::with(|time| time.sleep(Duration::ZERO)));
        let deadline = crate::clock::with(TimeHandle::now_instant) + after;
        Pin::new(&mut *sleep).reset(deadline);
        // A pending `Sleep` registers a timer at every poll: one per request, as wanted.
        if Pin::new(&mut *sleep)
            .poll(&mut Context::from_waker(waker))
            .is_ready()
        {
            waker.wake_by_ref();
        }
    }
}

impl Future for Alarm {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.sleep.is_elapsed() {
            return Poll::Ready(());
        }
        if self.armed {
            // The timer registered for this deadline will wake the task.
            return Poll::Pending;
        }
        self.armed = true;
        Pin::new(&mut self.sleep).poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alarm_fires_at_its_exact_deadline_and_can_be_moved() {
        let runtime = madsim::runtime::Runtime::with_seed_and_config(1, madsim::Config::default());
        runtime.block_on(async {
            let time = TimeHandle::current();
            // madsim lets a few nanoseconds pass per task poll; "exact" means within 1 us.
            let near = |elapsed: Duration, want: Duration| {
                assert!(
                    elapsed >= want && elapsed < want + Duration::from_micros(1),
                    "woke after {elapsed:?}, wanted {want:?}"
                );
            };
            let start = time.now_instant();
            Alarm::after(Duration::from_micros(250)).await;
            near(time.now_instant() - start, Duration::from_micros(250));
            let mut alarm = Alarm::after(Duration::from_millis(5));
            alarm.reset(start + Duration::from_millis(2));
            (&mut alarm).await;
            near(time.now_instant() - start, Duration::from_millis(2));
            // A deadline in the past is due at once.
            alarm.reset(start);
            (&mut alarm).await;
            near(time.now_instant() - start, Duration::from_millis(2));
        });
    }
}
