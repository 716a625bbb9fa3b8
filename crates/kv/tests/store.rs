//! The Store through its commands: revisions as etcd counts them (from 1), sessions,
//! every operation's answer, digests and snapshots.

use kv::{Applied, Store, StoreCanaries};
use proptest::prelude::*;
use proto::kv::{Command, Compare, Op, OpResult};
use proto::store::{
    Compare as TxnCompare, CompareOp, RangeOptions, StoreError, Target, TxnOp, Write,
};

fn cmd(client: u64, seq: u64, op: Op) -> Command {
    Command {
        client_id: client,
        seq,
        op,
    }
}

fn put(k: &str, v: &str) -> Op {
    Op::Put {
        key: k.into(),
        value: v.into(),
    }
}

#[test]
fn revisions_and_versions_follow_etcd() {
    let mut s = Store::new();
    s.apply(1, &cmd(1, 1, put("a", "1")));
    s.apply(2, &cmd(1, 2, put("a", "2")));
    s.apply(3, &cmd(1, 3, put("b", "1")));
    let a = s.key("a").unwrap();
    assert_eq!((a.create_revision, a.mod_revision, a.version), (2, 3, 2));
    assert_eq!(s.revision(), 4);
    let r = s.apply(4, &cmd(1, 4, Op::Delete { key: "a".into() }));
    assert_eq!(
        r,
        Applied::Fresh(OpResult::Delete {
            deleted: true,
            revision: 5
        })
    );
    let r = s.apply(5, &cmd(1, 5, Op::Delete { key: "a".into() }));
    assert_eq!(
        r,
        Applied::Fresh(OpResult::Delete {
            deleted: false,
            revision: 5
        })
    );
}

#[test]
fn compare_and_swap_on_value_and_on_revision() {
    let mut s = Store::new();
    let cas = |compare, v: &str| Op::Cas {
        key: "k".into(),
        compare,
        value: v.into(),
    };
    let ok = |a: Applied| {
        matches!(
            a,
            Applied::Fresh(OpResult::Cas {
                succeeded: true,
                ..
            })
        )
    };
    assert!(ok(s.apply(1, &cmd(1, 1, cas(Compare::Value(None), "x")))));
    assert!(!ok(s.apply(2, &cmd(1, 2, cas(Compare::Value(None), "y")))));
    assert!(ok(s.apply(
        3,
        &cmd(1, 3, cas(Compare::Value(Some("x".into())), "y"))
    )));
    assert!(!ok(
        s.apply(4, &cmd(1, 4, cas(Compare::ModRevision(2), "z")))
    ));
    assert!(ok(s.apply(5, &cmd(1, 5, cas(Compare::ModRevision(3), "z")))));
    assert_eq!(s.get("k").0.as_deref(), Some("z"));
}

#[test]
fn a_retried_command_is_applied_once_and_returns_the_original_result() {
    let mut s = Store::new();
    let first = s.apply(1, &cmd(7, 1, put("k", "v")));
    let Applied::Fresh(result) = first else {
        panic!("first application must be fresh")
    };
    assert_eq!(
        s.apply(2, &cmd(7, 1, put("k", "v"))),
        Applied::Duplicate(result)
    );
    assert_eq!(s.revision(), 2, "the retry changed nothing");
    s.apply(3, &cmd(7, 2, put("k", "w")));
    assert_eq!(s.apply(4, &cmd(7, 1, put("k", "v"))), Applied::Stale);
    assert_eq!(s.get("k").0.as_deref(), Some("w"));
}

#[test]
fn the_retry_canary_applies_twice() {
    let mut s = Store::new();
    s.set_canaries(StoreCanaries {
        apply_retries_twice: true,
        ..StoreCanaries::default()
    });
    s.apply(1, &cmd(7, 1, put("k", "v")));
    assert!(matches!(
        s.apply(2, &cmd(7, 1, put("k", "v"))),
        Applied::Fresh(_)
    ));
    assert_eq!(s.revision(), 3);
}

#[test]
fn the_digest_tells_states_apart() {
    let mut a = Store::new();
    let mut b = Store::new();
    a.apply(1, &cmd(1, 1, put("k", "v1")));
    b.apply(1, &cmd(1, 1, put("k", "v2")));
    assert_ne!(a.digest(), b.digest(), "different values");
    let mut c = Store::new();
    c.apply(1, &cmd(2, 1, put("k", "v1")));
    assert_ne!(a.digest(), c.digest(), "different sessions");
    let mut d = Store::new();
    d.apply(1, &cmd(1, 1, put("kv", "1")));
    assert_ne!(a.digest(), d.digest(), "a shifted key/value boundary");
    // Put then delete returns the data part to empty, but the revision moved on.
    a.apply(2, &cmd(1, 2, Op::Delete { key: "k".into() }));
    let e = Store::new();
    assert_ne!(a.digest(), e.digest());
    assert_eq!(a.digest(), Store::restore(&a.snapshot()).unwrap().digest());
}

#[test]
fn sessions_survive_snapshot_and_restore() {
    let mut s = Store::new();
    s.apply(1, &cmd(7, 1, put("k", "v")));
    let mut restored = Store::restore(&s.snapshot()).unwrap();
    assert_eq!(restored, s);
    assert!(matches!(
        restored.apply(2, &cmd(7, 1, put("k", "v"))),
        Applied::Duplicate(_)
    ));
}

proptest! {
    #[test]
    fn restore_of_random_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = Store::restore(&bytes);
    }

    #[test]
    fn snapshots_are_deterministic(ops in proptest::collection::vec((0u8..7, 0u8..5, 0u64..3), 0..50)) {
        let mut a = Store::new();
        for (i, (kind, key, client)) in ops.iter().enumerate() {
            let key = format!("k{key}");
            let op = match kind {
                0 => put(&key, &format!("v{i}")),
                1 => Op::Get { key },
                2 => Op::Delete { key },
                3 => Op::Cas { key, compare: Compare::Value(None), value: format!("c{i}") },
                4 => Op::DeleteRange { key, range_end: "\0".into(), prev_kv: true },
                5 => Op::Compact { revision: i as u64 / 2 + 1 },
                _ => Op::Txn {
                    compares: vec![TxnCompare { key: key.clone(), target: Target::Version(1), op: CompareOp::Greater }],
                    success: vec![TxnOp::Write(Write::Put { key, value: format!("t{i}"), lease: 0 })],
                    failure: vec![TxnOp::Write(Write::Put { key: "z".into(), value: format!("f{i}"), lease: 0 })],
                },
            };
            a.apply(i as u64 + 1, &cmd(*client, i as u64 + 1, op));
        }
        let b = Store::restore(&a.snapshot()).unwrap();
        prop_assert_eq!(a.snapshot(), b.snapshot());
        // `a` kept its digest up to date change by change; `b` computed it afresh.
        prop_assert_eq!(a.digest(), b.digest());
        prop_assert_eq!(&a, &b);
    }
}

#[test]
fn ranges_txns_delete_ranges_and_compactions_answer_as_etcd() {
    let mut s = Store::new();
    for (i, k) in ["a", "b", "c"].iter().enumerate() {
        s.apply(i as u64 + 1, &cmd(1, i as u64 + 1, put(k, "1"))); // revisions 2, 3, 4
    }
    let range = |key: &str, end: &str, revision| Op::Range {
        key: key.into(),
        range_end: end.into(),
        options: RangeOptions {
            revision,
            ..RangeOptions::default()
        },
    };
    let Some(OpResult::Range(r)) = s.read(&range("a", "c", 0)) else {
        panic!("a range reads")
    };
    assert_eq!((r.count, r.revision, r.kvs.len()), (2, 4, 2));
    // A transaction whose compare holds writes two keys at one revision.
    let txn = Op::Txn {
        compares: vec![TxnCompare {
            key: "a".into(),
            target: Target::Mod(2),
            op: CompareOp::Equal,
        }],
        success: vec![
            TxnOp::Write(Write::Put {
                key: "a".into(),
                value: "2".into(),
                lease: 0,
            }),
            TxnOp::Write(Write::Put {
                key: "d".into(),
                value: "2".into(),
                lease: 0,
            }),
        ],
        failure: vec![],
    };
    let Applied::Fresh(OpResult::Txn(t)) = s.apply(4, &cmd(1, 4, txn)) else {
        panic!("a txn applies")
    };
    assert!(t.succeeded);
    assert_eq!((t.revision, s.key("d").unwrap().mod_revision), (5, 5));
    let del = Op::DeleteRange {
        key: "b".into(),
        range_end: "\0".into(),
        prev_kv: true,
    };
    let Applied::Fresh(OpResult::DeleteRange {
        deleted,
        prev_kvs,
        revision,
    }) = s.apply(5, &cmd(1, 5, del))
    else {
        panic!("a delete-range applies")
    };
    assert_eq!((deleted, prev_kvs.len(), revision), (3, 3, 6));
    let compacted = s.apply(6, &cmd(1, 6, Op::Compact { revision: 5 }));
    assert_eq!(
        compacted,
        Applied::Fresh(OpResult::Compact {
            compact_revision: 5,
            revision: 6
        })
    );
    assert_eq!(
        s.read(&range("a", "\0", 3)),
        Some(OpResult::Refused(StoreError::Compacted {
            compact_revision: 5
        }))
    );
    assert_eq!(
        s.read(&range("a", "\0", 9)),
        Some(OpResult::Refused(StoreError::FutureRevision { current: 6 }))
    );
    let restored = Store::restore(&s.snapshot()).unwrap();
    assert_eq!(
        restored.read(&range("a", "\0", 5)),
        s.read(&range("a", "\0", 5))
    );
    assert_eq!(restored.digest(), s.digest());
}

#[test]
fn a_retried_txn_returns_its_first_answer() {
    let mut s = Store::new();
    let txn = Op::Txn {
        compares: vec![],
        success: vec![TxnOp::Write(Write::Put {
            key: "k".into(),
            value: "v".into(),
            lease: 0,
        })],
        failure: vec![],
    };
    let Applied::Fresh(first) = s.apply(1, &cmd(3, 1, txn.clone())) else {
        panic!("fresh")
    };
    let restored = Store::restore(&s.snapshot()).unwrap();
    for mut store in [s, restored] {
        assert_eq!(
            store.apply(2, &cmd(3, 1, txn.clone())),
            Applied::Duplicate(first.clone())
        );
    }
}
