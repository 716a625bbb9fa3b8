//! One test suite, run against every [`Disk`] implementation.

use crate::{Disk, DiskError, DiskFaults, FsDisk, SimDisk};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn suite(d: &mut dyn Disk) {
    // write, append, read, size
    d.write("log", 0, b"hello").unwrap();
    assert_eq!(d.append("log", b" world").unwrap(), 5);
    assert_eq!(d.size("log").unwrap(), 11);
    assert_eq!(d.read("log", 6, 5).unwrap(), b"world");
    assert_eq!(d.read_all("log").unwrap(), b"hello world");
    // write past the end fills with zeros
    d.write("gap", 3, b"x").unwrap();
    assert_eq!(d.read_all("gap").unwrap(), b"\0\0\0x");
    // read past end is an error, not a panic
    assert!(matches!(
        d.read("log", 10, 5),
        Err(DiskError::ReadPastEnd { .. })
    ));
    // truncate
    d.truncate("log", 5).unwrap();
    assert_eq!(d.read_all("log").unwrap(), b"hello");
    // sync and sync_dir succeed
    d.sync("log").unwrap();
    d.sync_dir().unwrap();
    // list is sorted
    assert_eq!(
        d.list().unwrap(),
        vec!["gap".to_string(), "log".to_string()]
    );
    // rename replaces
    d.rename("gap", "log").unwrap();
    assert_eq!(d.read_all("log").unwrap(), b"\0\0\0x");
    assert!(!d.exists("gap").unwrap());
    // remove
    d.remove("log").unwrap();
    assert!(matches!(d.size("log"), Err(DiskError::NotFound { .. })));
    assert!(matches!(d.remove("log"), Err(DiskError::NotFound { .. })));
    // names with separators are refused
    assert!(matches!(
        d.write("a/b", 0, b""),
        Err(DiskError::InvalidName { .. })
    ));
    assert!(d.list().unwrap().is_empty());
}

#[test]
fn suite_on_real_files() {
    let dir = tempfile::tempdir().unwrap();
    suite(&mut FsDisk::new(dir.path()).unwrap());
}

#[test]
fn suite_on_simulated_disk() {
    suite(&mut SimDisk::new(
        DiskFaults::default(),
        ChaCha8Rng::seed_from_u64(0),
    ));
}
