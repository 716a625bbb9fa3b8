//! Real files in one directory.

use crate::{check_name, Disk, DiskError};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// A [`Disk`] backed by real files in one directory. Open handles are cached so that a
/// write-then-sync loop does not reopen the file every time.
#[derive(Debug)]
pub struct FsDisk {
    root: PathBuf,
    open: BTreeMap<String, File>,
}

impl FsDisk {
    /// Uses (and creates if needed) the directory `root`.
    pub fn new(root: impl AsRef<Path>) -> Result<FsDisk, DiskError> {
        let root = root.as_ref().to_path_buf();
        std::fs::create_dir_all(&root).map_err(|e| io_error(&root.to_string_lossy(), e))?;
        Ok(FsDisk {
            root,
            open: BTreeMap::new(),
        })
    }

    fn handle(&mut self, file: &str, create: bool) -> Result<&mut File, DiskError> {
        check_name(file)?;
        if !self.open.contains_key(file) {
            let handle = OpenOptions::new()
                .read(true)
                .write(true)
                .create(create)
                .truncate(false)
                .open(self.root.join(file))
                .map_err(|e| io_error(file, e))?;
            self.open.insert(file.to_string(), handle);
        }
        Ok(self.open.get_mut(file).expect("handle inserted above"))
    }
}

fn io_error(file: &str, e: std::io::Error) -> DiskError {
    if e.kind() == ErrorKind::NotFound {
        DiskError::NotFound {
            file: file.to_string(),
        }
    } else {
        DiskError::Io {
            file: file.to_string(),
            message: e.to_string(),
        }
    }
}

impl Disk for FsDisk {
    fn write(&mut self, file: &str, offset: u64, data: &[u8]) -> Result<(), DiskError> {
        let handle = self.handle(file, true)?;
        handle
            .seek(SeekFrom::Start(offset))
            .and_then(|_| handle.write_all(data))
            .map_err(|e| io_error(file, e))
    }

    fn read(&mut self, file: &str, offset: u64, len: u64) -> Result<Vec<u8>, DiskError> {
        let size = self.size(file)?;
        if offset.checked_add(len).is_none_or(|end| end > size) {
            return Err(DiskError::ReadPastEnd {
                file: file.to_string(),
                offset,
                len,
                size,
            });
        }
        let handle = self.handle(file, false)?;
        let mut buf = vec![0u8; len as usize];
        handle
            .seek(SeekFrom::Start(offset))
            .and_then(|_| handle.read_exact(&mut buf))
            .map_err(|e| io_error(file, e))?;
        Ok(buf)
    }

    fn sync(&mut self, file: &str) -> Result<(), DiskError> {
        self.handle(file, false)?
            .sync_data()
            .map_err(|e| io_error(file, e))
    }

    fn sync_dir(&mut self) -> Result<(), DiskError> {
        let root = self.root.to_string_lossy().to_string();
        File::open(&self.root)
            .and_then(|d| d.sync_all())
            .map_err(|e| io_error(&root, e))
    }

    fn truncate(&mut self, file: &str, len: u64) -> Result<(), DiskError> {
        self.handle(file, false)?
            .set_len(len)
            .map_err(|e| io_error(file, e))
    }

    fn size(&mut self, file: &str) -> Result<u64, DiskError> {
        check_name(file)?;
        std::fs::metadata(self.root.join(file))
            .map(|m| m.len())
            .map_err(|e| io_error(file, e))
    }

    fn list(&mut self) -> Result<Vec<String>, DiskError> {
        let root = self.root.to_string_lossy().to_string();
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&self.root).map_err(|e| io_error(&root, e))? {
            let entry = entry.map_err(|e| io_error(&root, e))?;
            if entry.file_type().map(|t| t.is_file()).unwrap_or(false) {
                names.push(entry.file_name().to_string_lossy().to_string());
            }
        }
        names.sort();
        Ok(names)
    }

    fn remove(&mut self, file: &str) -> Result<(), DiskError> {
        check_name(file)?;
        self.open.remove(file);
        std::fs::remove_file(self.root.join(file)).map_err(|e| io_error(file, e))
    }

    fn rename(&mut self, from: &str, to: &str) -> Result<(), DiskError> {
        check_name(from)?;
        check_name(to)?;
        self.open.remove(from);
        self.open.remove(to);
        std::fs::rename(self.root.join(from), self.root.join(to)).map_err(|e| io_error(from, e))
    }
}
