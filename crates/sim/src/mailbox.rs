//! A node incarnation's mailbox.

use proto::NodeId;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

/// A node incarnation's mailbox: one reader (the node), writers the router and operator
/// commands. Hand-made rather than a channel: a channel allocated a listener every time
/// the node waited, that is for nearly every message.
pub(crate) struct Mailbox<M>(Arc<Mutex<MailboxInner<M>>>);

struct MailboxInner<M> {
    queue: VecDeque<(NodeId, M)>,
    /// The reader's waker while it waits.
    waker: Option<Waker>,
    /// The incarnation is over (crash): nothing more arrives.
    closed: bool,
}

impl<M> Clone for Mailbox<M> {
    fn clone(&self) -> Self {
        Mailbox(self.0.clone())
    }
}

impl<M> Mailbox<M> {
    pub(crate) fn new() -> Mailbox<M> {
        Mailbox(Arc::new(Mutex::new(MailboxInner {
            queue: VecDeque::new(),
            waker: None,
            closed: false,
        })))
    }

    fn lock(&self) -> MutexGuard<'_, MailboxInner<M>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Puts a message in; false if the mailbox is closed.
    pub(crate) fn put(&self, from: NodeId, msg: M) -> bool {
        let mut inner = self.lock();
        if inner.closed {
            return false;
        }
        inner.queue.push_back((from, msg));
        if let Some(waker) = inner.waker.take() {
            waker.wake();
        }
        true
    }

    /// Closes the mailbox; what is in it is dropped.
    pub(crate) fn close(&self) {
        let mut inner = self.lock();
        inner.closed = true;
        inner.queue.clear();
        inner.waker = None;
    }

    /// Waits for the next message.
    pub(crate) fn recv(&self) -> Recv<'_, M> {
        Recv(self)
    }
}

/// The future of [`Mailbox::recv`].
pub(crate) struct Recv<'a, M>(&'a Mailbox<M>);

impl<M> Future for Recv<'_, M> {
    type Output = (NodeId, M);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<(NodeId, M)> {
        let mut inner = self.0.lock();
        if let Some(m) = inner.queue.pop_front() {
            return Poll::Ready(m);
        }
        // A closed mailbox never fills again: this incarnation is over and the kill that
        // follows ends the task, so it waits forever.
        if !inner.closed
            && !inner
                .waker
                .as_ref()
                .is_some_and(|w| w.will_wake(cx.waker()))
        {
            inner.waker = Some(cx.waker().clone());
        }
        Poll::Pending
    }
}
