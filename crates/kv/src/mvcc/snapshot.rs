//! The multi-version store's snapshot: its whole window of history (every change kept
//! since the compact revision), the current and compact revisions and the leases, in a
//! fixed encoding that a restore validates field by field. Numbers are written in as few
//! bytes as they need (`Writer::var`): members snapshot often, and send snapshots whole.

use super::{Change, Mvcc, Rec};
use proto::codec::{DecodeError, Reader, Writer};
use std::collections::{BTreeMap, VecDeque};

/// Bytes a change takes at least (revision and tag), to bound counts before allocating.
const MIN_CHANGE: usize = 2;
/// Bytes a key takes at least (its length and its change count).
const MIN_KEY: usize = 5;
/// Bytes a lease takes at least (id and TTL).
const MIN_LEASE: usize = 2;

impl Mvcc {
    /// The store as bytes: the same store always gives the same bytes.
    pub fn snapshot(&self) -> Vec<u8> {
        let mut w = Writer::new();
        self.snapshot_into(&mut w);
        w.bytes
    }

    /// [`Mvcc::snapshot`], appended to `w` (a store's snapshot embeds it without a copy).
    pub fn snapshot_into(&self, w: &mut Writer) {
        w.var(self.revision);
        w.var(self.compact_revision);
        w.var(self.keys.len() as u64);
        for (key, changes) in &self.keys {
            w.str(key);
            w.var(changes.len() as u64);
            for c in changes {
                w.var(c.revision);
                match &c.rec {
                    None => w.u8(0),
                    Some(r) => {
                        w.u8(1);
                        w.str(&r.value);
                        for n in [r.create_revision, r.version, r.lease] {
                            w.var(n);
                        }
                    }
                }
            }
        }
        w.var(self.leases.len() as u64);
        for (id, ttl) in &self.leases {
            w.var(*id);
            w.var(*ttl);
        }
    }

    /// Rebuilds a store from [`Mvcc::snapshot`] bytes, refusing anything a snapshot of a
    /// real store cannot hold.
    pub fn restore(bytes: &[u8]) -> Result<Mvcc, DecodeError> {
        let mut r = Reader::new(bytes);
        let revision = r.var("revision")?;
        let compact_revision = r.var("compact revision")?;
        if revision == 0 || compact_revision > revision {
            return Err(r.error("revisions"));
        }
        let count = r.var("key count")?;
        if count > (r.remaining() / MIN_KEY) as u64 {
            return Err(r.error("key count"));
        }
        let mut keys = BTreeMap::new();
        for _ in 0..count {
            let key = r.str("key")?;
            let changes = changes(&mut r, revision)?;
            if keys.insert(key, changes).is_some() {
                return Err(r.error("a key given twice"));
            }
        }
        let leases = leases(&mut r)?;
        r.finish("mvcc snapshot")?;
        let live = keys
            .iter()
            .filter_map(|(k, changes)| Some((k, changes.back()?.live()?)))
            .fold(0, |d, (k, (rec, m))| d ^ super::kv_hash(k, rec, m));
        Ok(Mvcc {
            revision,
            compact_revision,
            keys,
            leases,
            live,
        })
    }
}

/// The granted leases, in id order, none with id 0.
fn leases(r: &mut Reader) -> Result<BTreeMap<u64, u64>, DecodeError> {
    let count = r.var("lease count")?;
    if count > (r.remaining() / MIN_LEASE) as u64 {
        return Err(r.error("lease count"));
    }
    let mut out = BTreeMap::new();
    let mut last = 0;
    for _ in 0..count {
        let id = r.var("lease id")?;
        if id <= last {
            return Err(r.error("lease id"));
        }
        last = id;
        out.insert(id, r.var("lease ttl")?);
    }
    Ok(out)
}

/// One key's changes, oldest first, each at a revision above the one before and none
/// above the store's.
fn changes(r: &mut Reader, revision: u64) -> Result<VecDeque<Change>, DecodeError> {
    let count = r.var("change count")?;
    if count == 0 || count > (r.remaining() / MIN_CHANGE) as u64 {
        return Err(r.error("change count"));
    }
    let mut out: VecDeque<Change> = VecDeque::with_capacity(count as usize);
    for _ in 0..count {
        let at = r.var("change revision")?;
        let after = out.back().map_or(0, |c| c.revision);
        if at <= after || at > revision {
            return Err(r.error("change revision"));
        }
        let rec = match r.u8("change kind")? {
            0 => None,
            1 => Some(Rec {
                value: r.str("value")?,
                create_revision: r.var("create revision")?,
                version: r.var("version")?,
                lease: r.var("lease")?,
            }),
            _ => return Err(r.error("change kind")),
        };
        if rec
            .as_ref()
            .is_some_and(|r| r.create_revision > at || r.create_revision == 0 || r.version == 0)
        {
            return Err(r.error("key revisions"));
        }
        out.push_back(Change { revision: at, rec });
    }
    Ok(out)
}
