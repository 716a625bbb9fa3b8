//! The multi-version store's snapshot: its whole window of history (every change kept
//! since the compact revision), the current and compact revisions and the leases, in a
//! fixed encoding
//! that a restore validates field by field.

use super::{Change, Kv, Mvcc};
use proto::codec::{DecodeError, Reader, Writer};
use std::collections::BTreeMap;

/// Bytes a change takes at least (revision and tag), to bound counts before allocating.
const MIN_CHANGE: usize = 9;
/// Bytes a key takes at least (its length and its change count).
const MIN_KEY: usize = 8;

impl Mvcc {
    /// The store as bytes: the same store always gives the same bytes.
    pub fn snapshot(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u64(self.revision);
        w.u64(self.compact_revision);
        w.u32(self.keys.len() as u32);
        for (key, changes) in &self.keys {
            w.str(key);
            w.u32(changes.len() as u32);
            for c in changes {
                w.u64(c.revision);
                match &c.kv {
                    None => w.u8(0),
                    Some(kv) => {
                        w.u8(1);
                        w.str(&kv.value);
                        w.u64(kv.create_revision);
                        w.u64(kv.version);
                        w.u64(kv.lease);
                    }
                }
            }
        }
        w.u32(self.leases.len() as u32);
        for (id, ttl) in &self.leases {
            w.u64(*id);
            w.u64(*ttl);
        }
        w.bytes
    }

    /// Rebuilds a store from [`Mvcc::snapshot`] bytes, refusing anything a snapshot of a
    /// real store cannot hold.
    pub fn restore(bytes: &[u8]) -> Result<Mvcc, DecodeError> {
        let mut r = Reader::new(bytes);
        let revision = r.u64("revision")?;
        let compact_revision = r.u64("compact revision")?;
        if revision == 0 || compact_revision > revision {
            return Err(r.error("revisions"));
        }
        let count = r.u32("key count")? as usize;
        if count > r.remaining() / MIN_KEY {
            return Err(r.error("key count"));
        }
        let mut keys = BTreeMap::new();
        for _ in 0..count {
            let key = r.str("key")?;
            let changes = changes(&mut r, &key, revision)?;
            if keys.insert(key, changes).is_some() {
                return Err(r.error("a key given twice"));
            }
        }
        let leases = leases(&mut r)?;
        r.finish("mvcc snapshot")?;
        let live = keys
            .values()
            .filter_map(|changes| changes.last().and_then(|c| c.kv.as_ref()))
            .fold(0, |d, kv| d ^ super::kv_hash(kv));
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
    let count = r.u32("lease count")? as usize;
    if count > r.remaining() / 16 {
        return Err(r.error("lease count"));
    }
    let mut out = BTreeMap::new();
    let mut last = 0;
    for _ in 0..count {
        let id = r.u64("lease id")?;
        if id <= last {
            return Err(r.error("lease id"));
        }
        last = id;
        out.insert(id, r.u64("lease ttl")?);
    }
    Ok(out)
}

/// One key's changes, oldest first, each at a revision above the one before and none
/// above the store's.
fn changes(r: &mut Reader, key: &str, revision: u64) -> Result<Vec<Change>, DecodeError> {
    let count = r.u32("change count")? as usize;
    if count == 0 || count > r.remaining() / MIN_CHANGE {
        return Err(r.error("change count"));
    }
    let mut out: Vec<Change> = Vec::with_capacity(count);
    for _ in 0..count {
        let at = r.u64("change revision")?;
        let after = out.last().map_or(0, |c| c.revision);
        if at <= after || at > revision {
            return Err(r.error("change revision"));
        }
        let kv = match r.u8("change kind")? {
            0 => None,
            1 => Some(Kv {
                key: key.to_string(),
                value: r.str("value")?,
                create_revision: r.u64("create revision")?,
                mod_revision: at,
                version: r.u64("version")?,
                lease: r.u64("lease")?,
            }),
            _ => return Err(r.error("change kind")),
        };
        if kv
            .as_ref()
            .is_some_and(|kv| kv.create_revision > at || kv.create_revision == 0 || kv.version == 0)
        {
            return Err(r.error("key revisions"));
        }
        out.push(Change { revision: at, kv });
    }
    Ok(out)
}
