//! The store's snapshot: the applied index, the multi-version store (its whole window of
//! history, the compact revision and the leases) and the client sessions, in a fixed
//! encoding that a restore validates field by field.

use crate::mvcc::Mvcc;
use crate::{Session, Store, StoreCanaries};
use proto::codec::{DecodeError, Reader, Writer};
use proto::kv::OpResult;
use proto::store::codec::Binary;
use std::collections::BTreeMap;

/// Bytes a session takes at least (client, sequence, result tag), to bound counts.
const MIN_SESSION: usize = 17;

impl Store {
    /// Serializes the state (the same state always gives the same bytes).
    pub fn snapshot(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u64(self.applied_index);
        // Length-prefixed like `Writer::bytes`, written in place.
        let at = w.bytes.len();
        w.u32(0);
        self.mvcc.snapshot_into(&mut w);
        let len = (w.bytes.len() - at - 4) as u32;
        w.bytes[at..at + 4].copy_from_slice(&len.to_le_bytes());
        if self.canaries.snapshot_drops_sessions {
            w.u32(0);
            return w.bytes;
        }
        w.u32(self.sessions.len() as u32);
        for (client, s) in &self.sessions {
            w.u64(*client);
            w.u64(s.last_seq);
            encode_result(&mut w, &s.last_result);
        }
        w.bytes
    }

    /// Rebuilds a store from [`Store::snapshot`] bytes, validating everything.
    pub fn restore(bytes: &[u8]) -> Result<Store, DecodeError> {
        let mut r = Reader::new(bytes);
        let applied_index = r.u64("applied index")?;
        let mvcc = Mvcc::restore(r.bytes("mvcc store")?)?;
        let count = r.u32("session count")? as usize;
        if count > r.remaining() / MIN_SESSION {
            return Err(r.error("session count"));
        }
        let mut sessions = BTreeMap::new();
        for _ in 0..count {
            let client = r.u64("client id")?;
            let last_seq = r.u64("last sequence")?;
            let last_result = decode_result(&mut r)?;
            sessions.insert(client, Session::new(client, last_seq, last_result));
        }
        r.finish("end of snapshot")?;
        let sessions_digest = sessions.values().fold(0, |d, s| d ^ s.hash);
        Ok(Store {
            mvcc,
            sessions,
            applied_index,
            canaries: StoreCanaries::default(),
            sessions_digest,
        })
    }
}

/// Encodes a result for the session table.
pub(crate) fn encode_result(w: &mut Writer, result: &OpResult) {
    match result {
        OpResult::Put { revision } => {
            w.u8(1);
            w.u64(*revision);
        }
        OpResult::Get {
            value,
            mod_revision,
        } => {
            w.u8(2);
            w.opt_str(value.as_deref());
            w.u64(*mod_revision);
        }
        OpResult::Delete { deleted, revision } => {
            w.u8(3);
            deleted.put(w);
            w.u64(*revision);
        }
        OpResult::Cas {
            succeeded,
            revision,
        } => {
            w.u8(4);
            succeeded.put(w);
            w.u64(*revision);
        }
        OpResult::Range(r) => {
            w.u8(5);
            r.put(w);
        }
        OpResult::DeleteRange {
            deleted,
            prev_kvs,
            revision,
        } => {
            w.u8(6);
            w.u64(*deleted);
            prev_kvs.put(w);
            w.u64(*revision);
        }
        OpResult::Txn(t) => {
            w.u8(7);
            t.put(w);
        }
        OpResult::Compact {
            compact_revision,
            revision,
        } => {
            w.u8(8);
            w.u64(*compact_revision);
            w.u64(*revision);
        }
        OpResult::Refused(e) => {
            w.u8(9);
            e.put(w);
        }
    }
}

fn decode_result(r: &mut Reader) -> Result<OpResult, DecodeError> {
    Ok(match r.u8("result tag")? {
        1 => OpResult::Put {
            revision: r.u64("revision")?,
        },
        2 => OpResult::Get {
            value: r.opt_str("value")?,
            mod_revision: r.u64("mod revision")?,
        },
        3 => OpResult::Delete {
            deleted: bool::take(r)?,
            revision: r.u64("revision")?,
        },
        4 => OpResult::Cas {
            succeeded: bool::take(r)?,
            revision: r.u64("revision")?,
        },
        5 => OpResult::Range(Binary::take(r)?),
        6 => OpResult::DeleteRange {
            deleted: r.u64("deleted count")?,
            prev_kvs: Vec::take(r)?,
            revision: r.u64("revision")?,
        },
        7 => OpResult::Txn(Binary::take(r)?),
        8 => OpResult::Compact {
            compact_revision: r.u64("compact revision")?,
            revision: r.u64("revision")?,
        },
        9 => OpResult::Refused(Binary::take(r)?),
        _ => return Err(r.error("result tag")),
    })
}
