//! Multi-key histories judged in the order the log applied the writes: a correct
//! history holds, and each kind of wrong answer is caught (a txn that took the wrong
//! branch, a range that read a state that never was, a read that went back in time, a
//! write whose revision breaks real time, an acknowledged write the log never applied).

use check::linearizability::{check_witnessed, AppliedCommand, Options, TimeUnit};
use check::Verdict;
use proto::history::{HistoryOp, Outcome};
use proto::kv::{Op, OpResult};
use proto::store::{
    Compare, CompareOp, Kv, RangeOptions, RangeResult, Target, TxnOp, TxnResult, Write,
};

fn op(client: u64, seq: u64, op: Op, call: u64, ret: u64, result: OpResult) -> HistoryOp {
    HistoryOp {
        client,
        seq,
        op,
        call_ns: call,
        return_ns: Some(ret),
        outcome: Outcome::Ok(result),
    }
}

fn kv(key: &str, value: &str, create: u64, modr: u64, version: u64) -> Kv {
    Kv {
        key: key.into(),
        value: value.into(),
        create_revision: create,
        mod_revision: modr,
        version,
        lease: 0,
    }
}

fn put(key: &str, value: &str) -> TxnOp {
    TxnOp::Write(Write::Put {
        key: key.into(),
        value: value.into(),
        lease: 0,
    })
}

fn range_all() -> Op {
    Op::Range {
        key: "a".into(),
        range_end: "\0".into(),
        options: RangeOptions::default(),
    }
}

/// Client 1 writes a and b in one txn (revision 2); client 2 then reads both; client 3's
/// txn compares a's version with 1 and so takes its success branch (revision 3).
fn history() -> (Vec<HistoryOp>, Vec<AppliedCommand>) {
    let t1 = Op::Txn {
        compares: vec![],
        success: vec![put("a", "1"), put("b", "1")],
        failure: vec![],
    };
    let t1_answer = OpResult::Txn(Box::new(TxnResult {
        succeeded: true,
        reads: vec![],
        prevs: vec![None, None],
        revision: 2,
    }));
    let read = OpResult::Range(Box::new(RangeResult {
        kvs: vec![kv("a", "1", 2, 2, 1), kv("b", "1", 2, 2, 1)],
        count: 2,
        more: false,
        revision: 2,
    }));
    let t3 = Op::Txn {
        compares: vec![Compare {
            key: "a".into(),
            target: Target::Version(1),
            op: CompareOp::Equal,
        }],
        success: vec![put("a", "2")],
        failure: vec![],
    };
    let t3_answer = OpResult::Txn(Box::new(TxnResult {
        succeeded: true,
        reads: vec![],
        prevs: vec![Some(kv("a", "1", 2, 2, 1))],
        revision: 3,
    }));
    let ops = vec![
        op(1, 1, t1, 0, 10, t1_answer),
        op(2, 1, range_all(), 20, 30, read),
        op(3, 1, t3, 40, 50, t3_answer),
    ];
    let applied = [(1, 1), (3, 1)]
        .iter()
        .enumerate()
        .map(|(i, (client, seq))| AppliedCommand {
            index: i as u64 + 1,
            client: *client,
            seq: *seq,
            fresh: true,
        })
        .collect();
    (ops, applied)
}

fn judge(ops: &[HistoryOp], applied: &[AppliedCommand]) -> Verdict {
    let options = Options {
        unit: TimeUnit::AsGiven,
        start_revision: 1,
        ..Options::default()
    };
    check_witnessed(ops, Some(applied), &options).verdict()
}

fn violated(v: &Verdict, words: &str) {
    match v {
        Verdict::Violated(found) => assert!(
            found[0].message.contains(words),
            "expected {words:?} in {}",
            found[0].message
        ),
        other => panic!("expected a violation, got {other:?}"),
    }
}

#[test]
fn a_correct_multi_key_history_holds() {
    let (ops, applied) = history();
    assert_eq!(judge(&ops, &applied), Verdict::Held);
}

#[test]
fn without_the_applied_order_it_is_undecided_never_passed() {
    let (ops, _) = history();
    let report = check_witnessed(&ops, None, &Options::default());
    assert!(matches!(report.verdict(), Verdict::Undecided(_)));
}

#[test]
fn a_txn_that_took_the_wrong_branch_is_caught() {
    let (mut ops, applied) = history();
    if let Outcome::Ok(OpResult::Txn(t)) = &mut ops[2].outcome {
        t.succeeded = false;
    }
    violated(&judge(&ops, &applied), "in the order the log applied it");
}

#[test]
fn a_range_that_saw_half_a_txn_is_caught() {
    let (mut ops, applied) = history();
    if let Outcome::Ok(OpResult::Range(r)) = &mut ops[1].outcome {
        r.kvs.pop();
        r.count = 1;
    }
    violated(&judge(&ops, &applied), "fits no store revision");
}

#[test]
fn a_read_that_goes_back_in_time_is_caught() {
    let (mut ops, applied) = history();
    // A fourth client reads after client 3's txn returned, but sees the state before it.
    let stale = ops[1].outcome.clone();
    ops.push(op(
        4,
        1,
        range_all(),
        60,
        70,
        match stale {
            Outcome::Ok(r) => r,
            _ => unreachable!(),
        },
    ));
    violated(&judge(&ops, &applied), "fits no store revision from 3");
}

#[test]
fn a_write_ordered_against_real_time_is_caught() {
    let (ops, mut applied) = history();
    // The log applies client 3's txn first, though client 1's returned before it began.
    applied.swap(0, 1);
    assert!(matches!(judge(&ops, &applied), Verdict::Violated(_)));
}

#[test]
fn an_acknowledged_write_the_log_never_applied_is_caught() {
    let (ops, mut applied) = history();
    applied.pop();
    violated(&judge(&ops, &applied), "never applied");
}

#[test]
fn a_history_file_carries_multi_key_operations_and_the_applied_order() {
    let (ops, applied) = history();
    let text = check::history_file::write_with(&ops, true, 1, Some(&applied));
    let file = check::history_file::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(file.start_revision, 1);
    let applied = file.applied.expect("the header gives the applied order");
    assert_eq!(applied.len(), 2);
    assert_eq!(judge(&file.ops, &applied), Verdict::Held);
    for (i, (a, b)) in ops.iter().zip(&file.ops).enumerate() {
        assert_eq!((&a.op, &a.outcome), (&b.op, &b.outcome), "line {}", i + 2);
    }
    // A header that names a line holding no write is refused, with the line.
    let bad = text.replacen("\"applied\":[2,4]", "\"applied\":[3]", 1);
    assert_ne!(bad, text, "the header was rewritten");
    let err = check::history_file::parse(&bad).unwrap_err();
    assert_eq!(err.line, 1);
    assert!(err.message.contains("line 3"), "{}", err.message);
}
