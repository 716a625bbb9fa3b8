//! `bench --only checker`: the linearizability checker on generated valid histories and
//! on histories that once took it long to reject.

use crate::measure::{median, proc_status_kib, timed};
use std::fmt::Write as _;

/// The linearizability checker on generated valid histories.
pub(crate) fn checker(runs: usize, quick: bool) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "## Linearizability checker (generated valid histories, 16 clients, 5% timeouts)\n"
    );
    let _ = writeln!(
        md,
        "| history | median seconds (min, max) | runs the whole-store search decided |\n|---|---|---|"
    );
    let scale = if quick { 10 } else { 1 };
    for (name, ops, keys) in [
        ("1,000 ops on one key", 1_000, 1),
        ("10,000 ops on one key", 10_000, 1),
        ("100,000 ops over 1,000 keys", 100_000, 1_000),
    ] {
        let ops = ops / scale;
        let (mut times, mut decided) = (Vec::new(), 0);
        for seed in 0..runs as u64 {
            let history = check::generate::generate(seed, ops, 16, keys, 50_000);
            let (report, wall) = timed(|| check::linearizability::check(&history));
            assert!(
                report.linearizable(),
                "a generated valid history was rejected"
            );
            // Past its budget the search hands over to the per-key one (a note).
            decided += usize::from(report.note.is_none());
            times.push(wall);
        }
        let m = median(times);
        let _ = writeln!(
            md,
            "| {name} | {:.4} ({:.4}, {:.4}) | {decided} of {} |",
            m.0, m.1, m.2, runs
        );
    }
    for (name, history) in adversarial() {
        let mut times = Vec::new();
        for _ in 0..runs {
            let (report, wall) = timed(|| check::linearizability::check(&history));
            assert!(report.violated(), "an impossible history was not rejected");
            times.push(wall);
        }
        let m = median(times);
        let _ = writeln!(
            md,
            "| {name} | {:.4} ({:.4}, {:.4}) | rejected |",
            m.0, m.1, m.2
        );
    }
    let _ = writeln!(
        md,
        "\nPeak resident memory of the whole process after the checker runs: {:.0} MiB.\n",
        proc_status_kib("VmHWM:") as f64 / 1024.0
    );
    md
}

/// Histories that are not linearizable and once took the checker long to reject: a read
/// of a value nobody wrote after 10,000 writes (target under 0.1 s), and 24 concurrent
/// writes nobody reads followed by a read of the initial state (target under 1 s).
fn adversarial() -> Vec<(&'static str, Vec<proto::history::HistoryOp>)> {
    use proto::history::{HistoryOp, Outcome};
    use proto::kv::{Op, OpResult};
    let put = |client: u64, seq: u64, call: u64, ret: u64| HistoryOp {
        client,
        seq,
        op: Op::Put {
            key: "k".into(),
            value: format!("c{client}-{seq}"),
        },
        call_ns: call,
        return_ns: Some(ret),
        outcome: Outcome::Ok(OpResult::Put {
            revision: seq * 100 + client,
        }),
    };
    let get = |value: Option<&str>, call: u64| HistoryOp {
        client: 999,
        seq: 1,
        op: Op::Get { key: "k".into() },
        call_ns: call,
        return_ns: Some(call + 10),
        outcome: Outcome::Ok(OpResult::Get {
            value: value.map(String::from),
            mod_revision: 0,
        }),
    };
    let mut unwritten: Vec<HistoryOp> = (0..10_000u64)
        .map(|i| put(i % 16, i / 16 + 1, i * 10, i * 10 + 5))
        .collect();
    unwritten.push(get(Some("nobody-wrote-this"), 7));
    let mut concurrent: Vec<HistoryOp> = (0..24u64).map(|c| put(c, 1, 0, 100 + c)).collect();
    concurrent.push(get(None, 500));
    vec![
        (
            "10,000 ops, one read of a value nobody wrote (rejected)",
            unwritten,
        ),
        (
            "24 concurrent unread puts, then an impossible read (rejected)",
            concurrent,
        ),
    ]
}
