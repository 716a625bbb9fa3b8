//! The run's trace: every event with its simulated time, and a stable 64-bit hash.

use proto::codec::{fnv1a, FNV_OFFSET};
use proto::trace::{Event, EventKind};
use std::hash::{Hash, Hasher};

/// A `Hasher` over FNV-1a, so the trace hash depends only on the events (not on the
/// process, the platform's random hash keys or the Rust release's `DefaultHasher`).
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0 = fnv1a(self.0, bytes);
    }
}

/// Records events and folds each into the running hash.
#[derive(Debug)]
pub struct Trace {
    events: Vec<Event>,
    hash: u64,
}

impl Default for Trace {
    fn default() -> Self {
        Trace {
            events: Vec::new(),
            hash: FNV_OFFSET,
        }
    }
}

impl Trace {
    /// Appends an event at `time_ns`.
    pub fn record(&mut self, time_ns: u64, kind: EventKind) {
        let event = Event { time_ns, kind };
        let mut h = Fnv(self.hash);
        event.hash(&mut h);
        self.hash = h.finish();
        self.events.push(event);
    }

    /// The hash of every event so far, in order.
    pub fn hash(&self) -> u64 {
        self.hash
    }

    /// The events so far.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// Takes the events out (the hash is kept).
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }
}

/// Writes events as JSON lines.
pub fn write_json_lines(events: &[Event], out: &mut impl std::io::Write) -> std::io::Result<()> {
    for e in events {
        serde_json::to_writer(&mut *out, e)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}
