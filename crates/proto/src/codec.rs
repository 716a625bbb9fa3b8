//! A small, validating binary codec: little-endian integers and length-prefixed bytes.
//!
//! Decoding never trusts its input: every length is checked against the bytes that remain
//! before anything is allocated, so a corrupt or hostile byte string yields a
//! [`DecodeError`], never a panic or a huge allocation.

use std::fmt;

/// Why a byte string could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    /// Byte offset (within the decoded buffer) where decoding failed.
    pub offset: usize,
    /// What was being read.
    pub what: &'static str,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot decode {} at byte {}", self.what, self.offset)
    }
}

impl std::error::Error for DecodeError {}

/// Appends encoded values to a byte vector.
#[derive(Default, Debug)]
pub struct Writer {
    /// The bytes written so far.
    pub bytes: Vec<u8>,
}

impl Writer {
    /// An empty writer.
    pub fn new() -> Writer {
        Writer::default()
    }
    /// An empty writer with room for `bytes` bytes.
    pub fn with_capacity(bytes: usize) -> Writer {
        Writer {
            bytes: Vec::with_capacity(bytes),
        }
    }
    /// Writes one byte.
    pub fn u8(&mut self, value: u8) {
        self.bytes.push(value);
    }
    /// Writes a little-endian `u32`.
    pub fn u32(&mut self, value: u32) {
        self.bytes.extend_from_slice(&value.to_le_bytes());
    }
    /// Writes a little-endian `u64`.
    pub fn u64(&mut self, value: u64) {
        self.bytes.extend_from_slice(&value.to_le_bytes());
    }
    /// Writes a `u32` length then the bytes.
    pub fn bytes(&mut self, value: &[u8]) {
        let len = u32::try_from(value.len()).expect("a field longer than 4 GiB cannot be encoded");
        self.u32(len);
        self.bytes.extend_from_slice(value);
    }
    /// Writes a string as length-prefixed UTF-8.
    pub fn str(&mut self, value: &str) {
        self.bytes(value.as_bytes());
    }
    /// Writes a `u64` in as few bytes as it needs (LEB128: seven bits a byte, low first),
    /// for numbers that are usually small (revisions, versions, counts in snapshots).
    pub fn var(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.bytes.push((value as u8) | 0x80);
            value >>= 7;
        }
        self.bytes.push(value as u8);
    }
    /// Writes an optional string: a presence byte, then the string.
    pub fn opt_str(&mut self, value: Option<&str>) {
        match value {
            None => self.u8(0),
            Some(s) => {
                self.u8(1);
                self.str(s);
            }
        }
    }
}

/// Reads values from a byte slice, validating as it goes.
#[derive(Debug)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, offset: 0 }
    }
    /// The current offset.
    pub fn offset(&self) -> usize {
        self.offset
    }
    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.offset
    }
    /// An error at the current offset.
    pub fn error(&self, what: &'static str) -> DecodeError {
        DecodeError {
            offset: self.offset,
            what,
        }
    }
    fn take(&mut self, len: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.remaining() < len {
            return Err(self.error(what));
        }
        let out = &self.bytes[self.offset..self.offset + len];
        self.offset += len;
        Ok(out)
    }
    /// Reads one byte.
    pub fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.take(1, what)?[0])
    }
    /// Reads a little-endian `u32`.
    pub fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    /// Reads a little-endian `u64`.
    pub fn u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
    /// Reads a number written by [`Writer::var`], refusing one longer than it needs or
    /// beyond `u64`.
    pub fn var(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        let at = self.offset;
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.u8(what)?;
            let bits = u64::from(byte & 0x7f);
            if shift == 63 && bits > 1 {
                return Err(DecodeError { offset: at, what });
            }
            value |= bits << shift;
            if byte & 0x80 == 0 {
                // A last byte of 0 after others is an overlong encoding.
                if byte == 0 && shift > 0 {
                    return Err(DecodeError { offset: at, what });
                }
                return Ok(value);
            }
        }
        Err(DecodeError { offset: at, what })
    }
    /// Reads length-prefixed bytes; the length is checked against what remains first.
    pub fn bytes(&mut self, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let len = self.u32(what)? as usize;
        self.take(len, what)
    }
    /// Reads a length-prefixed UTF-8 string.
    pub fn str(&mut self, what: &'static str) -> Result<String, DecodeError> {
        let at = self.offset;
        let raw = self.bytes(what)?;
        String::from_utf8(raw.to_vec()).map_err(|_| DecodeError { offset: at, what })
    }
    /// Reads an optional string written by [`Writer::opt_str`].
    pub fn opt_str(&mut self, what: &'static str) -> Result<Option<String>, DecodeError> {
        match self.u8(what)? {
            0 => Ok(None),
            1 => Ok(Some(self.str(what)?)),
            _ => Err(DecodeError {
                offset: self.offset - 1,
                what,
            }),
        }
    }
    /// Fails unless every byte was read.
    pub fn finish(&self, what: &'static str) -> Result<(), DecodeError> {
        if self.remaining() == 0 {
            Ok(())
        } else {
            Err(self.error(what))
        }
    }
}

/// FNV-1a, 64 bits: a stable digest for trace hashes and entry digests. Chosen because its
/// output never changes between Rust releases or platforms (unlike `DefaultHasher`).
pub fn fnv1a(seed: u64, bytes: &[u8]) -> u64 {
    let mut hash = seed;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// The FNV-1a offset basis, the starting value for [`fnv1a`].
pub const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_length_numbers_round_trip_and_refuse_overlong_or_overflowing_ones() {
        for n in [
            0,
            1,
            127,
            128,
            300,
            u64::from(u32::MAX),
            u64::MAX - 1,
            u64::MAX,
        ] {
            let mut w = Writer::new();
            w.var(n);
            let len = w.bytes.len();
            assert!(len <= 10 && (n >= 128 || len == 1), "{n} took {len} bytes");
            let mut r = Reader::new(&w.bytes);
            assert_eq!(r.var("n").unwrap(), n);
            r.finish("end").unwrap();
        }
        // 1 written in two bytes, and a number past u64.
        for bad in [
            vec![0x81, 0x00],
            vec![0xff; 9].into_iter().chain([0x02]).collect(),
        ] {
            assert!(Reader::new(&bad).var("n").is_err(), "{bad:?}");
        }
        assert!(Reader::new(&[0x80]).var("n").is_err(), "truncated");
    }

    #[test]
    fn round_trip_and_truncation_is_an_error() {
        let mut w = Writer::new();
        w.u8(7);
        w.u64(u64::MAX);
        w.str("héllo");
        w.opt_str(None);
        w.opt_str(Some("x"));
        let mut r = Reader::new(&w.bytes);
        assert_eq!(r.u8("a").unwrap(), 7);
        assert_eq!(r.u64("b").unwrap(), u64::MAX);
        assert_eq!(r.str("c").unwrap(), "héllo");
        assert_eq!(r.opt_str("d").unwrap(), None);
        assert_eq!(r.opt_str("e").unwrap(), Some("x".to_string()));
        r.finish("end").unwrap();
        for cut in 0..w.bytes.len() {
            let mut r = Reader::new(&w.bytes[..cut]);
            let ok = r.u8("a").is_ok()
                && r.u64("b").is_ok()
                && r.str("c").is_ok()
                && r.opt_str("d").is_ok()
                && r.opt_str("e").is_ok();
            assert!(!ok, "a prefix of {cut} bytes decoded as if whole");
        }
    }

    #[test]
    fn huge_length_prefix_is_rejected_without_allocating() {
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff, 1, 2]);
        assert_eq!(r.bytes("payload").unwrap_err().what, "payload");
    }
}
