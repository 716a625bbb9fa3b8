//! The fixed binary encoding of the Store's shapes, for log entries and snapshots: the
//! same value always gives the same bytes, and decoding validates every field.

use super::{
    Compare, CompareOp, Kv, RangeOptions, RangeResult, StoreError, Target, TxnOp, TxnResult, Write,
};
use crate::codec::{DecodeError, Reader, Writer};

/// A shape with a fixed binary encoding.
pub trait Binary: Sized {
    /// Appends the encoding of `self`.
    fn put(&self, w: &mut Writer);
    /// Reads one value, validating it.
    fn take(r: &mut Reader) -> Result<Self, DecodeError>;
}

impl Binary for u64 {
    fn put(&self, w: &mut Writer) {
        w.u64(*self);
    }
    fn take(r: &mut Reader) -> Result<Self, DecodeError> {
        r.u64("number")
    }
}

impl Binary for bool {
    fn put(&self, w: &mut Writer) {
        w.u8(u8::from(*self));
    }
    fn take(r: &mut Reader) -> Result<Self, DecodeError> {
        match r.u8("flag")? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(r.error("flag")),
        }
    }
}

impl Binary for String {
    fn put(&self, w: &mut Writer) {
        w.str(self);
    }
    fn take(r: &mut Reader) -> Result<Self, DecodeError> {
        r.str("string")
    }
}

impl<T: Binary> Binary for Vec<T> {
    fn put(&self, w: &mut Writer) {
        w.u32(self.len() as u32);
        for x in self {
            x.put(w);
        }
    }
    fn take(r: &mut Reader) -> Result<Self, DecodeError> {
        let n = r.u32("list length")? as usize;
        // Every element takes at least one byte: a length beyond what remains is a lie.
        if n > r.remaining() {
            return Err(r.error("list length"));
        }
        (0..n).map(|_| T::take(r)).collect()
    }
}

impl<T: Binary> Binary for Box<T> {
    fn put(&self, w: &mut Writer) {
        (**self).put(w);
    }
    fn take(r: &mut Reader) -> Result<Self, DecodeError> {
        T::take(r).map(Box::new)
    }
}

impl<T: Binary> Binary for Option<T> {
    fn put(&self, w: &mut Writer) {
        match self {
            None => w.u8(0),
            Some(x) => {
                w.u8(1);
                x.put(w);
            }
        }
    }
    fn take(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(if bool::take(r)? {
            Some(T::take(r)?)
        } else {
            None
        })
    }
}

impl Binary for Kv {
    fn put(&self, w: &mut Writer) {
        w.str(&self.key);
        w.str(&self.value);
        for n in [
            self.create_revision,
            self.mod_revision,
            self.version,
            self.lease,
        ] {
            w.u64(n);
        }
    }
    fn take(r: &mut Reader) -> Result<Self, DecodeError> {
        let kv = Kv {
            key: r.str("key")?,
            value: r.str("value")?,
            create_revision: r.u64("create revision")?,
            mod_revision: r.u64("mod revision")?,
            version: r.u64("version")?,
            lease: r.u64("lease")?,
        };
        if kv.create_revision > kv.mod_revision || (kv.version == 0) != (kv.mod_revision == 0) {
            return Err(r.error("key revisions"));
        }
        Ok(kv)
    }
}

impl Binary for RangeOptions {
    fn put(&self, w: &mut Writer) {
        w.u64(self.revision);
        w.u64(self.limit);
        self.count_only.put(w);
        self.keys_only.put(w);
    }
    fn take(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(RangeOptions {
            revision: r.u64("range revision")?,
            limit: r.u64("range limit")?,
            count_only: bool::take(r)?,
            keys_only: bool::take(r)?,
        })
    }
}

impl Binary for RangeResult {
    fn put(&self, w: &mut Writer) {
        self.kvs.put(w);
        w.u64(self.count);
        self.more.put(w);
        w.u64(self.revision);
    }
    fn take(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(RangeResult {
            kvs: Vec::take(r)?,
            count: r.u64("count")?,
            more: bool::take(r)?,
            revision: r.u64("revision")?,
        })
    }
}

impl Binary for Write {
    fn put(&self, w: &mut Writer) {
        match self {
            Write::Put { key, value, lease } => {
                w.u8(1);
                w.str(key);
                w.str(value);
                w.u64(*lease);
            }
            Write::DeleteRange { key, range_end } => {
                w.u8(2);
                w.str(key);
                w.str(range_end);
            }
        }
    }
    fn take(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(match r.u8("write tag")? {
            1 => Write::Put {
                key: r.str("key")?,
                value: r.str("value")?,
                lease: r.u64("lease")?,
            },
            2 => Write::DeleteRange {
                key: r.str("key")?,
                range_end: r.str("range end")?,
            },
            _ => return Err(r.error("write tag")),
        })
    }
}

impl Binary for Compare {
    fn put(&self, w: &mut Writer) {
        w.str(&self.key);
        w.u8(self.op as u8);
        match &self.target {
            Target::Version(n) => (1, *n).put_tagged(w),
            Target::Create(n) => (2, *n).put_tagged(w),
            Target::Mod(n) => (3, *n).put_tagged(w),
            Target::Lease(n) => (4, *n).put_tagged(w),
            Target::Value(v) => {
                w.u8(5);
                w.str(v);
            }
        }
    }
    fn take(r: &mut Reader) -> Result<Self, DecodeError> {
        let key = r.str("compare key")?;
        let op = match r.u8("compare op")? {
            0 => CompareOp::Equal,
            1 => CompareOp::NotEqual,
            2 => CompareOp::Greater,
            3 => CompareOp::Less,
            _ => return Err(r.error("compare op")),
        };
        let target = match r.u8("compare target")? {
            1 => Target::Version(r.u64("compare number")?),
            2 => Target::Create(r.u64("compare number")?),
            3 => Target::Mod(r.u64("compare number")?),
            4 => Target::Lease(r.u64("compare number")?),
            5 => Target::Value(r.str("compare value")?),
            _ => return Err(r.error("compare target")),
        };
        Ok(Compare { key, target, op })
    }
}

/// A tag byte and a number.
trait Tagged {
    fn put_tagged(self, w: &mut Writer);
}

impl Tagged for (u8, u64) {
    fn put_tagged(self, w: &mut Writer) {
        w.u8(self.0);
        w.u64(self.1);
    }
}

impl Binary for TxnOp {
    fn put(&self, w: &mut Writer) {
        match self {
            TxnOp::Range { key, range_end } => {
                w.u8(1);
                w.str(key);
                w.str(range_end);
            }
            TxnOp::Write(write) => {
                w.u8(2);
                write.put(w);
            }
        }
    }
    fn take(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(match r.u8("txn op tag")? {
            1 => TxnOp::Range {
                key: r.str("key")?,
                range_end: r.str("range end")?,
            },
            2 => TxnOp::Write(Write::take(r)?),
            _ => return Err(r.error("txn op tag")),
        })
    }
}

impl Binary for TxnResult {
    fn put(&self, w: &mut Writer) {
        self.succeeded.put(w);
        self.reads.put(w);
        self.prevs.put(w);
        w.u64(self.revision);
    }
    fn take(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(TxnResult {
            succeeded: bool::take(r)?,
            reads: Vec::take(r)?,
            prevs: Vec::take(r)?,
            revision: r.u64("revision")?,
        })
    }
}

impl Binary for StoreError {
    fn put(&self, w: &mut Writer) {
        match self {
            StoreError::Compacted { compact_revision } => (1, *compact_revision).put_tagged(w),
            StoreError::FutureRevision { current } => (2, *current).put_tagged(w),
            StoreError::LeaseNotFound(id) => (3, *id).put_tagged(w),
            StoreError::DuplicateKey(k) => {
                w.u8(4);
                w.str(k);
            }
        }
    }
    fn take(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(match r.u8("store error tag")? {
            1 => StoreError::Compacted {
                compact_revision: r.u64("compact revision")?,
            },
            2 => StoreError::FutureRevision {
                current: r.u64("current revision")?,
            },
            3 => StoreError::LeaseNotFound(r.u64("lease")?),
            4 => StoreError::DuplicateKey(r.str("key")?),
            _ => return Err(r.error("store error tag")),
        })
    }
}
