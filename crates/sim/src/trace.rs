//! The run's trace: every event with its simulated time, and a stable 64-bit hash.

use proto::trace::{Event, EventKind};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether traces keep message events (see [`keep_messages`]).
static KEEP_MESSAGES: AtomicBool = AtomicBool::new(true);

/// Sets whether the traces of runs started from now on keep their bulky events: the
/// messages sent, delivered and dropped, and the members' Raft steps. On by default.
/// Every event is hashed either way, so trace hashes do not change. They are most of a
/// run's events; no checker reads the message events, and trace validation reads the
/// steps online, as they are recorded (see [`Observer`]): a sweep leaves them out, and
/// its other checkers walk a small part of the events.
pub fn keep_messages(keep: bool) {
    KEEP_MESSAGES.store(keep, Ordering::Relaxed);
}

/// Whether `kind` is a bulky event (a message or a Raft step).
fn is_bulky(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::Send { .. }
            | EventKind::Deliver { .. }
            | EventKind::Drop { .. }
            | EventKind::RaftStep(_)
    )
}

/// Reads every event of a run as it is recorded, kept or not (a checker run online).
pub trait Observer: Send + 'static {
    /// The next event.
    fn observe(&mut self, event: &Event);
    /// Itself, for the caller to take back its findings at the end of the run.
    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any>;
}

/// The trace hash's starting value.
const START: u64 = 0xcbf2_9ce4_8422_2325;

/// An odd multiplier with well-spread bits (the golden ratio's).
const K: u64 = 0x9e37_79b9_7f4a_7c15;

/// A `Hasher` that folds whole words, so the trace hash depends only on the events (not on
/// the process, the platform's random hash keys or the Rust release's `DefaultHasher`).
///
/// Why not FNV-1a over bytes: the trace hashes every message sent and delivered, and a
/// multiply per byte made hashing a tenth of a run. Each step here, rotate, xor, multiply
/// by an odd constant, is a bijection of the state for a fixed input word, so two traces
/// that differ in one word always hash differently; the rotation carries high bits down so
/// that differences do not stay in the top bits. Integers are folded as 64-bit words
/// whatever their width, so the hash is the same on 32- and 64-bit platforms.
struct WordHasher(u64);

impl WordHasher {
    fn word(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(23) ^ x).wrapping_mul(K);
    }
}

impl Hasher for WordHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.word(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            // The length in the top byte tells "ab" from "ab\0".
            self.word(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 56));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.word(u64::from(i));
    }
    fn write_u16(&mut self, i: u16) {
        self.word(u64::from(i));
    }
    fn write_u32(&mut self, i: u32) {
        self.word(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.word(i);
    }
    fn write_u128(&mut self, i: u128) {
        self.word(i as u64);
        self.word((i >> 64) as u64);
    }
    fn write_usize(&mut self, i: usize) {
        self.word(i as u64);
    }
    fn write_i8(&mut self, i: i8) {
        self.word(i as u64);
    }
    fn write_i16(&mut self, i: i16) {
        self.word(i as u64);
    }
    fn write_i32(&mut self, i: i32) {
        self.word(i as u64);
    }
    fn write_i64(&mut self, i: i64) {
        self.word(i as u64);
    }
    fn write_isize(&mut self, i: isize) {
        self.word(i as u64);
    }
}

/// Records events and folds each into the running hash.
pub struct Trace {
    events: Vec<Event>,
    hash: u64,
    /// Whether bulky events are kept (they are hashed either way).
    messages: bool,
    /// Who reads every event as it comes.
    observer: Option<Box<dyn Observer>>,
}

impl std::fmt::Debug for Trace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trace")
            .field("events", &self.events.len())
            .field("hash", &self.hash)
            .field("observed", &self.observer.is_some())
            .finish()
    }
}

impl Default for Trace {
    fn default() -> Self {
        Trace {
            events: Vec::new(),
            hash: START,
            messages: KEEP_MESSAGES.load(Ordering::Relaxed),
            observer: None,
        }
    }
}

impl Trace {
    /// Appends an event at `time_ns`.
    pub fn record(&mut self, time_ns: u64, kind: EventKind) {
        let event = Event { time_ns, kind };
        // A step is a view of the core's decisions, whose effects (messages, persisted
        // state, commits, applies) are all hashed: folding it in too would cost a tenth of
        // a run, and the hash stays what it was before steps were recorded.
        if !matches!(event.kind, EventKind::RaftStep(_)) {
            let mut h = WordHasher(self.hash);
            event.hash(&mut h);
            self.hash = h.finish();
        }
        if let Some(observer) = self.observer.as_mut() {
            observer.observe(&event);
        }
        if self.messages || !is_bulky(&event.kind) {
            self.events.push(event);
        }
    }

    /// Has `observer` read every event from now on. Set it before the first event, or it
    /// misses what came before.
    pub fn observe(&mut self, observer: Box<dyn Observer>) {
        self.observer = Some(observer);
    }

    /// Takes the observer back.
    pub fn take_observer(&mut self) -> Option<Box<dyn Observer>> {
        self.observer.take()
    }

    /// The hash of every event so far, in order.
    pub fn hash(&self) -> u64 {
        self.hash
    }

    /// The events so far (without message events, unless kept: see [`keep_messages`]).
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

#[cfg(test)]
mod tests {
    use super::*;
    use proto::trace::MessageSummary;

    fn hash_of(events: &[(u64, EventKind)]) -> u64 {
        let mut t = Trace::default();
        for (time, kind) in events {
            t.record(*time, kind.clone());
        }
        t.hash()
    }

    fn send(from: u64, to: u64, index: u64) -> EventKind {
        EventKind::Send {
            from,
            to,
            msg: MessageSummary {
                kind: None,
                term: 1,
                index,
                entries: 0,
                reject: false,
                last_entry_term: 0,
            },
        }
    }

    #[test]
    fn the_hash_tells_apart_time_order_fields_and_strings() {
        let base = hash_of(&[(1, send(1, 2, 3)), (2, send(2, 1, 3))]);
        assert_eq!(base, hash_of(&[(1, send(1, 2, 3)), (2, send(2, 1, 3))]));
        for other in [
            hash_of(&[(2, send(2, 1, 3)), (1, send(1, 2, 3))]),
            hash_of(&[(1, send(1, 2, 3)), (3, send(2, 1, 3))]),
            hash_of(&[(1, send(1, 2, 4)), (2, send(2, 1, 3))]),
            hash_of(&[(1, send(2, 1, 3)), (2, send(1, 2, 3))]),
            hash_of(&[(1, send(1, 2, 3))]),
            hash_of(&[(1, send(1, 2, 3 | 1 << 63)), (2, send(2, 1, 3))]),
        ] {
            assert_ne!(base, other);
        }
        let note = |text: &str| {
            hash_of(&[(
                0,
                EventKind::Note {
                    node: 0,
                    text: text.into(),
                },
            )])
        };
        assert_ne!(note("ab"), note("ab\0"));
        assert_ne!(note("abcdefgh"), note("abcdefghi"));
        assert_ne!(note(""), note("\0"));
    }

    #[test]
    fn the_hash_is_pinned() {
        // If this changes, every recorded trace hash (snapshots, README, reports) changes
        // with it: only on purpose.
        assert_eq!(
            format!("{:016x}", hash_of(&[(1, send(1, 2, 3))])),
            "df712cbed968619d"
        );
    }
}
