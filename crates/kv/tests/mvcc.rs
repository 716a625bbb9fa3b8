//! The multi-version store against etcd's rules, and against a brute-force model that
//! keeps a whole copy of the store at every revision.

use kv::mvcc::{prefix_end, Kv, Mvcc, RangeOptions, ReadError, TxnError, Write};
use proptest::prelude::*;
use std::collections::BTreeMap;

fn put(key: &str, value: &str) -> Write {
    Write::Put {
        key: key.into(),
        value: value.into(),
        lease: 0,
    }
}

fn del(key: &str, range_end: &str) -> Write {
    Write::DeleteRange {
        key: key.into(),
        range_end: range_end.into(),
    }
}

fn now() -> RangeOptions {
    RangeOptions::default()
}

fn get(s: &Mvcc, key: &str, revision: u64) -> Option<Kv> {
    let opts = RangeOptions {
        revision,
        ..RangeOptions::default()
    };
    s.range(key, "", &opts).unwrap().kvs.pop()
}

#[test]
fn revisions_start_at_one_and_grow_by_one_per_changing_txn() {
    let mut s = Mvcc::new();
    assert_eq!(s.revision(), 1);
    s.apply(&[put("a", "1")]).unwrap();
    assert_eq!(s.revision(), 2, "the first write makes revision 2");
    s.apply(&[put("b", "1"), put("c", "1"), del("a", "")])
        .unwrap();
    assert_eq!(s.revision(), 3, "one revision per txn, however many keys");
    s.apply(&[del("zzz", "")]).unwrap();
    assert_eq!(
        s.revision(),
        3,
        "a delete that removes nothing adds nothing"
    );
}

#[test]
fn versions_and_create_revisions_follow_incarnations() {
    let mut s = Mvcc::new();
    s.apply(&[put("k", "1")]).unwrap(); // 2
    s.apply(&[put("k", "2")]).unwrap(); // 3
    let kv = get(&s, "k", 0).unwrap();
    assert_eq!((kv.create_revision, kv.mod_revision, kv.version), (2, 3, 2));
    s.apply(&[del("k", "")]).unwrap(); // 4
    assert_eq!(get(&s, "k", 0), None);
    s.apply(&[put("k", "3")]).unwrap(); // 5
    let kv = get(&s, "k", 0).unwrap();
    assert_eq!((kv.create_revision, kv.mod_revision, kv.version), (5, 5, 1));
    // The past stays readable.
    assert_eq!(get(&s, "k", 3).unwrap().value, "2");
    assert_eq!(get(&s, "k", 4), None);
    assert_eq!(get(&s, "k", 1), None);
}

#[test]
fn ranges_follow_etcds_conventions() {
    let mut s = Mvcc::new();
    for k in ["a", "ab", "abc", "b", "c"] {
        s.apply(&[put(k, k)]).unwrap();
    }
    let keys = |key: &str, end: &str| -> Vec<String> {
        let r = s.range(key, end, &now()).unwrap();
        r.kvs.into_iter().map(|kv| kv.key).collect()
    };
    assert_eq!(keys("ab", ""), ["ab"], "an empty end reads one key");
    assert_eq!(
        keys("ab", "\0"),
        ["ab", "abc", "b", "c"],
        "\\0: from the key on"
    );
    assert_eq!(keys("a", "b"), ["a", "ab", "abc"], "half open");
    assert_eq!(keys("ab", &prefix_end("ab")), ["ab", "abc"], "a prefix");
    assert_eq!(keys("\0", "\0"), ["a", "ab", "abc", "b", "c"], "everything");
    assert_eq!(prefix_end(""), "\0");
    assert_eq!(prefix_end("a"), "b");
}

#[test]
fn limit_count_only_and_keys_only() {
    let mut s = Mvcc::new();
    for k in ["a", "b", "c"] {
        s.apply(&[put(k, "v")]).unwrap();
    }
    let limited = RangeOptions { limit: 2, ..now() };
    let r = s.range("a", "\0", &limited).unwrap();
    assert_eq!((r.kvs.len(), r.count, r.more), (2, 3, true));
    let counted = RangeOptions {
        count_only: true,
        ..now()
    };
    let r = s.range("a", "\0", &counted).unwrap();
    assert_eq!((r.kvs.len(), r.count, r.more), (0, 3, false));
    let keys_only = RangeOptions {
        keys_only: true,
        ..now()
    };
    let r = s.range("a", "\0", &keys_only).unwrap();
    assert!(r
        .kvs
        .iter()
        .all(|kv| kv.value.is_empty() && kv.version == 1));
    assert_eq!(r.revision, 4, "the header's revision is the current one");
}

#[test]
fn compaction_keeps_what_stood_at_its_revision_and_refuses_older_reads() {
    let mut s = Mvcc::new();
    s.apply(&[put("a", "1")]).unwrap(); // 2
    s.apply(&[put("a", "2"), put("b", "1")]).unwrap(); // 3
    s.apply(&[del("b", "")]).unwrap(); // 4
    s.apply(&[put("a", "3")]).unwrap(); // 5
    s.compact(4).unwrap();
    assert_eq!(s.compact_revision(), 4);
    assert_eq!(get(&s, "a", 4).unwrap().value, "2", "what stood at 4 stays");
    assert_eq!(get(&s, "b", 4), None);
    let old = RangeOptions {
        revision: 3,
        ..now()
    };
    assert_eq!(
        s.range("a", "", &old),
        Err(ReadError::Compacted {
            compact_revision: 4
        })
    );
    let future = RangeOptions {
        revision: 6,
        ..now()
    };
    assert_eq!(
        s.range("a", "", &future),
        Err(ReadError::FutureRevision { current: 5 })
    );
    assert!(matches!(s.compact(4), Err(ReadError::Compacted { .. })));
    assert!(matches!(
        s.compact(9),
        Err(ReadError::FutureRevision { .. })
    ));
}

#[test]
fn a_txn_writing_a_key_twice_is_refused_whole() {
    let mut s = Mvcc::new();
    s.apply(&[put("a", "1")]).unwrap();
    let before = s.clone();
    assert_eq!(
        s.apply(&[put("b", "1"), put("b", "2")]),
        Err(TxnError::DuplicateKey("b".into()))
    );
    assert_eq!(
        s.apply(&[put("a", "2"), del("a", "")]),
        Err(TxnError::DuplicateKey("a".into()))
    );
    assert_eq!(s, before, "a refused txn changes nothing");
}

#[test]
fn writes_return_previous_values() {
    let mut s = Mvcc::new();
    assert_eq!(s.apply(&[put("a", "1")]).unwrap(), vec![None]);
    let prev = s.apply(&[put("a", "2")]).unwrap();
    assert_eq!(prev[0].as_ref().unwrap().value, "1");
    s.apply(&[put("b", "x")]).unwrap();
    let prev = s.apply(&[del("a", "\0")]).unwrap();
    let values: Vec<_> = prev
        .iter()
        .map(|p| p.as_ref().unwrap().value.clone())
        .collect();
    assert_eq!(values, ["2", "x"]);
}

/// The brute-force model: a whole copy of the store at every revision.
#[derive(Default)]
struct Model {
    states: Vec<BTreeMap<String, Kv>>,
    compacted: u64,
}

impl Model {
    fn new() -> Model {
        // Revisions 0 and 1 both hold the empty store.
        Model {
            states: vec![BTreeMap::new(), BTreeMap::new()],
            compacted: 0,
        }
    }

    fn apply(&mut self, writes: &[(u8, Option<u8>)]) {
        let mut next = self.states.last().unwrap().clone();
        let rev = self.states.len() as u64;
        let mut changed = false;
        for (k, value) in writes {
            let key = format!("k{k}");
            match value {
                Some(v) => {
                    let (create, version) = next
                        .get(&key)
                        .map_or((rev, 1), |p| (p.create_revision, p.version + 1));
                    next.insert(
                        key.clone(),
                        Kv {
                            key,
                            value: v.to_string(),
                            create_revision: create,
                            mod_revision: rev,
                            version,
                            lease: 0,
                        },
                    );
                    changed = true;
                }
                None => changed |= next.remove(&key).is_some(),
            }
        }
        if changed {
            self.states.push(next);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Random single-key transactions (duplicates left out), compactions and reads at
    /// random revisions: every read matches the copy of the store at its revision.
    #[test]
    fn reads_at_any_revision_match_a_copy_of_the_store_then(
        txns in prop::collection::vec(
            (prop::collection::btree_map(0u8..6, prop::option::of(0u8..4), 1..3), 0u8..8),
            1..30,
        ),
    ) {
        let mut s = Mvcc::new();
        let mut m = Model::new();
        for (writes, action) in txns {
            let writes: Vec<(u8, Option<u8>)> = writes.into_iter().collect();
            let ws: Vec<Write> = writes
                .iter()
                .map(|(k, v)| match v {
                    Some(v) => put(&format!("k{k}"), &v.to_string()),
                    None => del(&format!("k{k}"), ""),
                })
                .collect();
            s.apply(&ws).unwrap();
            m.apply(&writes);
            prop_assert_eq!(s.revision(), m.states.len() as u64 - 1);
            if action == 0 && s.revision() > m.compacted + 1 {
                let to = m.compacted + 1 + (s.revision() - m.compacted - 1) / 2;
                s.compact(to).unwrap();
                m.compacted = to;
            }
            for rev in 1..=s.revision() {
                let opts = RangeOptions { revision: rev, ..RangeOptions::default() };
                let got = s.range("k", &prefix_end("k"), &opts);
                if rev < m.compacted {
                    prop_assert!(got.is_err());
                    continue;
                }
                let want: Vec<Kv> = m.states[rev as usize].values().cloned().collect();
                prop_assert_eq!(got.unwrap().kvs, want, "revision {}", rev);
            }
        }
    }
}

#[test]
fn txn_compares_treat_an_absent_key_as_zero_and_empty() {
    use kv::mvcc::{Compare, CompareOp, Target, TxnOp};
    let mut s = Mvcc::new();
    let cmp = |target, op| Compare {
        key: "k".into(),
        target,
        op,
    };
    // Create-if-absent: version 0 (or create revision 0) on an absent key.
    assert!(s.compare(&cmp(Target::Version(0), CompareOp::Equal)));
    assert!(s.compare(&cmp(Target::Create(0), CompareOp::Equal)));
    assert!(s.compare(&cmp(Target::Value(String::new()), CompareOp::Equal)));
    let create = [cmp(Target::Version(0), CompareOp::Equal)];
    let r = s
        .txn(
            &create,
            &[
                TxnOp::Write(put("k", "1")),
                TxnOp::Range {
                    key: "k".into(),
                    range_end: String::new(),
                },
            ],
            &[],
        )
        .unwrap();
    assert!(r.succeeded);
    assert_eq!(r.revision, 2);
    assert_eq!(
        r.reads[0].kvs[0].value, "1",
        "a txn's read sees its writes before it, as in etcd"
    );
    assert_eq!(r.reads[0].kvs[0].mod_revision, 2);
    // The same create again fails and runs the failure branch, changing nothing.
    let r = s
        .txn(
            &create,
            &[TxnOp::Write(put("k", "2"))],
            &[TxnOp::Range {
                key: "k".into(),
                range_end: String::new(),
            }],
        )
        .unwrap();
    assert!(!r.succeeded);
    assert_eq!((r.revision, r.reads[0].kvs[0].value.as_str()), (2, "1"));
    assert!(s.compare(&cmp(Target::Mod(2), CompareOp::Equal)));
    assert!(s.compare(&cmp(Target::Version(0), CompareOp::Greater)));
    assert!(s.compare(&cmp(Target::Value("0".into()), CompareOp::Greater)));
    assert!(s.compare(&cmp(Target::Lease(1), CompareOp::Less)));
    assert!(s.compare(&cmp(Target::Create(3), CompareOp::NotEqual)));
    assert!(!s.compare(&cmp(Target::Create(2), CompareOp::NotEqual)));
}

#[test]
fn a_txn_runs_its_branch_in_order_as_one_revision() {
    use kv::mvcc::TxnOp;
    let mut s = Mvcc::new();
    let read = || TxnOp::Range {
        key: "k".into(),
        range_end: String::new(),
    };
    let branch = [
        read(),
        TxnOp::Write(put("k", "1")),
        read(),
        TxnOp::Write(put("j", "1")),
    ];
    let r = s.txn(&[], &branch, &[]).unwrap();
    assert!(r.succeeded, "no compare: success");
    assert!(r.reads[0].kvs.is_empty(), "before the put");
    assert_eq!(r.reads[1].kvs[0].value, "1", "after it");
    assert_eq!(s.revision(), 2, "two puts, one revision");
    let twice = [TxnOp::Write(put("k", "2")), TxnOp::Write(del("k", ""))];
    assert_eq!(
        s.txn(&[], &twice, &[]),
        Err(TxnError::DuplicateKey("k".into()))
    );
    assert_eq!(s.revision(), 2);
}

#[test]
fn a_snapshot_restores_the_whole_window_and_the_compact_revision() {
    let mut s = Mvcc::new();
    s.apply(&[put("a", "1"), put("b", "1")]).unwrap(); // 2
    s.apply(&[put("a", "2")]).unwrap(); // 3
    s.apply(&[del("b", "")]).unwrap(); // 4
    s.apply(&[put("a", "3")]).unwrap(); // 5
    s.compact(3).unwrap();
    let bytes = s.snapshot();
    let back = Mvcc::restore(&bytes).unwrap();
    assert_eq!(back, s);
    assert_eq!(
        back.snapshot(),
        bytes,
        "the same store gives the same bytes"
    );
    assert_eq!(get(&back, "a", 3).unwrap().value, "2");
    let old = RangeOptions {
        revision: 2,
        ..now()
    };
    assert!(matches!(
        back.range("a", "", &old),
        Err(ReadError::Compacted {
            compact_revision: 3
        })
    ));
    // Damage is refused, never taken.
    for cut in 0..bytes.len() {
        assert!(Mvcc::restore(&bytes[..cut]).is_err(), "cut at {cut}");
    }
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert!(Mvcc::restore(&trailing).is_err());
}

proptest! {
    #[test]
    fn restoring_random_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = Mvcc::restore(&bytes);
    }
}

#[test]
fn leases_grant_without_a_revision_and_revoke_their_keys_in_one() {
    use kv::mvcc::LeaseError;
    let mut s = Mvcc::new();
    let on = |key: &str, lease| Write::Put {
        key: key.into(),
        value: "v".into(),
        lease,
    };
    assert_eq!(s.apply(&[on("a", 7)]), Err(TxnError::LeaseNotFound(7)));
    assert_eq!(s.grant(7, 10), Ok(7));
    assert_eq!(s.grant(7, 10), Err(LeaseError::Exists(7)));
    assert_eq!(s.grant(0, 5), Ok(8), "0 picks the next free id");
    assert_eq!(s.revision(), 1, "a grant changes no revision");
    s.apply(&[on("a", 7), on("b", 7), on("c", 8)]).unwrap(); // 2
    s.apply(&[on("b", 0)]).unwrap(); // 3: b leaves the lease
    assert_eq!(s.lease_keys(7), ["a"]);
    let gone = s.revoke(7).unwrap();
    assert_eq!((gone.len(), s.revision()), (1, 4));
    assert_eq!(get(&s, "a", 0), None);
    assert!(get(&s, "b", 0).is_some());
    assert_eq!(s.revoke(7), Err(LeaseError::NotFound(7)));
    s.apply(&[del("c", "")]).unwrap(); // 5
    assert_eq!(s.revoke(8).unwrap(), vec![], "no key attached: no revision");
    assert_eq!(s.revision(), 5);
    assert_eq!(s.leases(), vec![]);
    s.grant(3, 60).unwrap();
    let back = Mvcc::restore(&s.snapshot()).unwrap();
    assert_eq!(
        back.leases(),
        vec![(3, 60)],
        "the snapshot carries the leases"
    );
}

proptest! {
    /// The fast path for a lone put leaves the store exactly as a one-put transaction does.
    #[test]
    fn a_lone_put_is_a_one_put_transaction(writes in proptest::collection::vec((0u8..4, 0u8..3), 0..40)) {
        let (mut fast, mut txn) = (Mvcc::new(), Mvcc::new());
        for (i, (key, kind)) in writes.iter().enumerate() {
            let key = format!("k{key}");
            if *kind == 0 {
                fast.apply(&[del(&key, "")]).unwrap();
                txn.apply(&[del(&key, "")]).unwrap();
            } else {
                fast.put_lone(&key, &format!("v{i}"));
                txn.apply(&[put(&key, &format!("v{i}"))]).unwrap();
            }
        }
        prop_assert_eq!(fast.digest(), txn.digest());
        prop_assert_eq!(&fast, &txn);
    }
}

proptest! {
    /// The fast path for a lone delete leaves the store exactly as a one-delete
    /// transaction does, and says whether it removed anything.
    #[test]
    fn a_lone_delete_is_a_one_delete_transaction(writes in proptest::collection::vec((0u8..4, 0u8..3), 0..40)) {
        let (mut fast, mut txn) = (Mvcc::new(), Mvcc::new());
        for (i, (key, kind)) in writes.iter().enumerate() {
            let key = format!("k{key}");
            if *kind == 0 {
                let before = txn.revision();
                txn.apply(&[del(&key, "")]).unwrap();
                prop_assert_eq!(fast.delete_lone(&key), txn.revision() > before);
            } else {
                fast.put_lone(&key, &format!("v{i}"));
                txn.apply(&[put(&key, &format!("v{i}"))]).unwrap();
            }
        }
        prop_assert_eq!(&fast, &txn);
    }
}
