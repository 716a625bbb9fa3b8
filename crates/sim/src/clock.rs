//! The run's simulated clock, looked up once per run instead of once per use.
//!
//! madsim's `TimeHandle::current()` reads a thread-local and clones two `Arc`s, and a
//! `Sleep` clones the handle again: the standard chaos run spent a tenth of its time there
//! (the world asks the time for every message and event, the router sets an alarm for
//! every delivery). [`run`](crate::run) keeps the handle for the thread while the run's
//! body runs, and drops it when the body ends, so that it does not keep the runtime's
//! timers (and through them the world) alive after the run.

use madsim::time::TimeHandle;
use std::cell::RefCell;

thread_local! {
    static TIME: RefCell<Option<TimeHandle>> = const { RefCell::new(None) };
}

/// Keeps the current runtime's time handle for this thread until dropped.
pub(crate) struct Kept(());

impl Kept {
    /// Call inside the runtime.
    pub(crate) fn new() -> Kept {
        TIME.with(|t| *t.borrow_mut() = Some(TimeHandle::current()));
        Kept(())
    }
}

impl Drop for Kept {
    fn drop(&mut self) {
        let _ = TIME.try_with(|t| t.borrow_mut().take());
    }
}

/// Calls `f` with the running runtime's time handle: the kept one inside [`crate::run`],
/// else madsim's own lookup.
pub(crate) fn with<T>(f: impl FnOnce(&TimeHandle) -> T) -> T {
    TIME.with(|t| match t.borrow().as_ref() {
        Some(handle) => f(handle),
        None => f(&TimeHandle::current()),
    })
}
