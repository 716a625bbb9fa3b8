//! Snapshot files: written to a temporary name, synced, renamed, and the directory synced,
//! so a crash leaves either the old set of snapshots or the new one, never half a file
//! under a final name. A checksum covers the content; loading takes the newest valid one.

use disk::{Disk, DiskError};
use proto::codec::{DecodeError, Reader, Writer};
use proto::conf::ConfState;
use proto::raft::{Snapshot, SnapshotMeta};
use proto::Index;

const MAGIC: &[u8; 4] = b"RSNP";
const VERSION: u8 = 2;
const PREFIX: &str = "snap-";
const SUFFIX: &str = ".snap";
const TMP_SUFFIX: &str = ".snap.tmp";

/// The file name of the snapshot at `index`.
pub fn file_name(meta: &SnapshotMeta) -> String {
    format!("{PREFIX}{:020}-{:020}{SUFFIX}", meta.index, meta.term)
}

fn index_of(name: &str) -> Option<Index> {
    let rest = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    let (index, term) = rest.split_once('-')?;
    term.parse::<u64>().ok()?;
    index.parse().ok()
}

/// Encodes a snapshot file's bytes.
pub fn encode(snapshot: &Snapshot) -> Vec<u8> {
    let mut body = Writer::new();
    body.u64(snapshot.meta.index);
    body.u64(snapshot.meta.term);
    snapshot.meta.conf.encode_into(&mut body);
    body.bytes(&snapshot.data);
    let mut out = Vec::with_capacity(body.bytes.len() + 9);
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.extend_from_slice(&crc32c::crc32c(&body.bytes).to_le_bytes());
    out.extend_from_slice(&body.bytes);
    out
}

/// Decodes and verifies a snapshot file's bytes.
pub fn decode(bytes: &[u8]) -> Result<Snapshot, DecodeError> {
    let mut r = Reader::new(bytes);
    let mut magic = [0u8; 4];
    for b in magic.iter_mut() {
        *b = r.u8("magic")?;
    }
    if &magic != MAGIC {
        return Err(DecodeError {
            offset: 0,
            what: "magic",
        });
    }
    if r.u8("version")? != VERSION {
        return Err(r.error("version"));
    }
    let crc = r.u32("checksum")?;
    let body = &bytes[r.offset()..];
    if crc32c::crc32c(body) != crc {
        return Err(r.error("checksum"));
    }
    let index = r.u64("index")?;
    let term = r.u64("term")?;
    let conf = ConfState::decode_from(&mut r)?;
    let data = r.bytes("data")?.to_vec();
    r.finish("end of snapshot")?;
    Ok(Snapshot {
        meta: SnapshotMeta { index, term, conf },
        data,
    })
}

/// Writes the snapshot durably under its final name.
pub fn write(disk: &mut dyn Disk, snapshot: &Snapshot) -> Result<String, DiskError> {
    let name = file_name(&snapshot.meta);
    let tmp = format!("{}{TMP_SUFFIX}", name.trim_end_matches(SUFFIX));
    if disk.exists(&tmp)? {
        disk.remove(&tmp)?;
    }
    disk.write(&tmp, 0, &encode(snapshot))?;
    disk.sync(&tmp)?;
    disk.rename(&tmp, &name)?;
    disk.sync_dir()?;
    Ok(name)
}

/// Snapshot files that failed to verify: (file name, why).
pub type Rejected = Vec<(String, String)>;

/// The newest snapshot that decodes and verifies, and the names of newer files that did
/// not (with why), so the caller can report them.
pub fn load_newest(disk: &mut dyn Disk) -> Result<(Option<Snapshot>, Rejected), DiskError> {
    let mut named: Vec<(Index, String)> = disk
        .list()?
        .into_iter()
        .filter_map(|n| index_of(&n).map(|i| (i, n)))
        .collect();
    named.sort();
    let mut rejected = Vec::new();
    for (_, name) in named.into_iter().rev() {
        let bytes = disk.read_all(&name)?;
        match decode(&bytes) {
            Ok(s) => return Ok((Some(s), rejected)),
            Err(e) => rejected.push((name, e.to_string())),
        }
    }
    Ok((None, rejected))
}

/// Removes snapshot files older than `keep_index` and leftover temporary files.
pub fn remove_older(disk: &mut dyn Disk, keep_index: Index) -> Result<(), DiskError> {
    for name in disk.list()? {
        let stale = name.ends_with(TMP_SUFFIX) || index_of(&name).is_some_and(|i| i < keep_index);
        if stale {
            disk.remove(&name)?;
        }
    }
    Ok(())
}
