//! Storage for a member: the synchronous [`Disk`] trait and its two implementations.
//!
//! - [`FsDisk`]: real files in one directory (`std::fs`), for tests and benchmarks of the
//!   write-ahead log on a real file system.
//! - [`SimDisk`]: an in-memory disk for the simulation. Each file has **durable** content
//!   and **pending** writes; [`Disk::sync`] makes a file's pending writes durable and
//!   [`Disk::sync_dir`] makes creations, renames and removals durable, as on Linux. At a
//!   [`SimDisk::crash`] the pending writes are resolved by the configured [`FaultMode`],
//!   drawn from a seeded random stream, so every crash reproduces from the run seed.
//!
//! A disk is a flat namespace of files (one directory per member).

mod fs;
mod sim;

pub use fs::FsDisk;
pub use sim::{CrashReport, Damage, DiskFaults, FaultMode, SimDisk, SECTOR_BYTES};

/// An error from a disk operation.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum DiskError {
    /// The file does not exist.
    #[error("file {file:?} does not exist")]
    NotFound {
        /// The file name.
        file: String,
    },
    /// A read asked for bytes beyond the end of the file.
    #[error("read of {len} bytes at offset {offset} past the end of {file:?} ({size} bytes)")]
    ReadPastEnd {
        /// The file name.
        file: String,
        /// Requested offset.
        offset: u64,
        /// Requested length.
        len: u64,
        /// The file's size.
        size: u64,
    },
    /// A file name that is empty or contains a path separator.
    #[error("invalid file name {file:?}")]
    InvalidName {
        /// The file name.
        file: String,
    },
    /// An error from the operating system (real files only).
    #[error("i/o error on {file:?}: {message}")]
    Io {
        /// The file name.
        file: String,
        /// The operating system's message.
        message: String,
    },
}

/// A synchronous disk holding a flat set of named files.
///
/// Durability contract (what a correct program may rely on):
/// - bytes written to a file are durable once [`Disk::sync`] on that file returned;
/// - a file's creation, a rename and a removal are durable once [`Disk::sync_dir`] returned;
/// - anything not yet durable may be lost, kept, or torn at a crash.
pub trait Disk {
    /// Writes `data` at `offset`, creating the file if needed and extending it (with zeros
    /// if `offset` is past the end).
    fn write(&mut self, file: &str, offset: u64, data: &[u8]) -> Result<(), DiskError>;
    /// Reads exactly `len` bytes at `offset`; reading past the end is an error.
    fn read(&mut self, file: &str, offset: u64, len: u64) -> Result<Vec<u8>, DiskError>;
    /// Makes the file's written bytes durable (fsync).
    fn sync(&mut self, file: &str) -> Result<(), DiskError>;
    /// Makes creations, renames and removals durable (fsync of the directory).
    fn sync_dir(&mut self) -> Result<(), DiskError>;
    /// Cuts or extends the file to `len` bytes (durable after [`Disk::sync`]).
    fn truncate(&mut self, file: &str, len: u64) -> Result<(), DiskError>;
    /// The file's size in bytes.
    fn size(&mut self, file: &str) -> Result<u64, DiskError>;
    /// Every file name, sorted.
    fn list(&mut self) -> Result<Vec<String>, DiskError>;
    /// Removes a file.
    fn remove(&mut self, file: &str) -> Result<(), DiskError>;
    /// Renames `from` to `to`, replacing `to` if it exists.
    fn rename(&mut self, from: &str, to: &str) -> Result<(), DiskError>;

    /// Appends `data` at the end of the file and returns the offset it was written at.
    fn append(&mut self, file: &str, data: &[u8]) -> Result<u64, DiskError> {
        let offset = match self.size(file) {
            Ok(size) => size,
            Err(DiskError::NotFound { .. }) => 0,
            Err(e) => return Err(e),
        };
        self.write(file, offset, data)?;
        Ok(offset)
    }
    /// Reads the whole file.
    fn read_all(&mut self, file: &str) -> Result<Vec<u8>, DiskError> {
        let size = self.size(file)?;
        self.read(file, 0, size)
    }
    /// Whether the file exists.
    fn exists(&mut self, file: &str) -> Result<bool, DiskError> {
        match self.size(file) {
            Ok(_) => Ok(true),
            Err(DiskError::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

pub(crate) fn check_name(file: &str) -> Result<(), DiskError> {
    // One pass over the bytes (every disk operation checks its name).
    let separator = file.bytes().any(|b| b == b'/' || b == b'\\');
    if file.is_empty() || separator || file == "." || file == ".." {
        return Err(DiskError::InvalidName {
            file: file.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod generic_tests;
