//! check-history's hard cases: each one, from a history file, gets the right verdict
//! (linearizable, a violation, or undecided) and never a guess.

use check::history_file::parse;
use check::linearizability::{check_with, Options, Report, TimeUnit};
use check::Verdict;
use std::fmt::Write;

fn judge(text: &str, budget: u64) -> Report {
    let file = parse(text).unwrap_or_else(|e| panic!("{e}"));
    check_with(
        &file.ops,
        &Options {
            budget,
            unit: TimeUnit::AsGiven,
            revisions: file.revisions,
            complete: file.complete,
            start_revision: file.start_revision,
        },
    )
}

fn line(client: u64, body: &str, call: u64, ret: Option<u64>, status: &str) -> String {
    let ret = ret.map_or("null".to_string(), |r| r.to_string());
    format!(
        "{{\"client\": {client}, \"key\": \"x\", {body}, \"call\": {call}, \"return\": {ret}, \"status\": \"{status}\"}}\n"
    )
}

#[test]
fn expected_null_means_create_if_absent() {
    let ok = line(
        1,
        r#""op": "cas", "expected": null, "value": "a", "output": true"#,
        0,
        Some(10),
        "ok",
    ) + &line(2, r#""op": "get", "output": "a""#, 20, Some(30), "ok");
    assert_eq!(judge(&ok, 1_000).verdict(), Verdict::Held);
    // The key is already there: create-if-absent cannot succeed.
    let bad = line(1, r#""op": "put", "value": "b""#, 0, Some(5), "ok")
        + &line(
            2,
            r#""op": "cas", "expected": null, "value": "a", "output": true"#,
            10,
            Some(20),
            "ok",
        );
    assert!(judge(&bad, 1_000).verdict().is_violated());
    // A missing "expected" is still an error, naming the line.
    let missing = line(
        1,
        r#""op": "cas", "value": "a", "output": true"#,
        0,
        Some(10),
        "ok",
    );
    let err = parse(&missing).unwrap_err();
    assert_eq!(err.line, 1);
    assert!(err.message.contains("expected"), "{}", err.message);
}

#[test]
fn an_exhausted_budget_is_undecided_never_a_violation() {
    // Linearizable, but only after the search tries a wrong order first.
    let mut text = String::new();
    for c in 0..6u64 {
        text += &line(
            c,
            &format!(r#""op": "put", "value": "v{c}""#),
            0,
            Some(100),
            "ok",
        );
    }
    text += &line(9, r#""op": "get", "output": "v0""#, 200, Some(210), "ok");
    let starved = judge(&text, 1);
    assert!(
        matches!(starved.verdict(), Verdict::Undecided(_)),
        "{:?}",
        starved.verdict()
    );
    assert!(!starved.violated());
    assert_eq!(judge(&text, 1_000_000).verdict(), Verdict::Held);
}

#[test]
fn an_ok_operation_returning_at_the_largest_time_has_returned() {
    // The put returned (at u64::MAX), so the read that was called before that may or may
    // not see it; but a read called after every other op and seeing the initial state is
    // fine only if the put is placed after it, which its return at u64::MAX allows.
    let max = u64::MAX;
    let text = line(1, r#""op": "put", "value": "a""#, 0, Some(max), "ok")
        + &line(2, r#""op": "get", "output": null"#, 10, Some(20), "ok");
    assert_eq!(judge(&text, 1_000).verdict(), Verdict::Held);
    // It counts as completed: a history of just that put has something to judge.
    let only = line(1, r#""op": "put", "value": "a""#, 0, Some(max), "ok");
    assert_eq!(judge(&only, 1_000).completed, 1);
}

#[test]
fn a_read_of_the_internal_placeholder_is_not_accepted() {
    // "a" is never read, so the checker writes it as its placeholder internally; a read
    // returning that very string must not match it.
    let placeholder = "\\u0000(a value nobody read)";
    let text = line(1, r#""op": "put", "value": "a""#, 0, Some(10), "ok")
        + &line(
            2,
            &format!(r#""op": "get", "output": "{placeholder}""#),
            20,
            Some(30),
            "ok",
        );
    assert!(judge(&text, 1_000).verdict().is_violated());
    // Even when some write really wrote that string, but later than the read.
    let text = text
        + &line(
            3,
            &format!(r#""op": "put", "value": "{placeholder}""#),
            40,
            Some(50),
            "ok",
        );
    assert!(judge(&text, 1_000).verdict().is_violated());
}

#[test]
fn a_read_of_a_value_nobody_wrote_is_rejected_before_any_search() {
    let mut text = String::new();
    for i in 0..10_000u64 {
        let _ = write!(
            text,
            "{}",
            line(
                i % 16,
                &format!(r#""op": "put", "value": "w{i}""#),
                i * 10,
                Some(i * 10 + 5),
                "ok"
            )
        );
    }
    text += &line(
        99,
        r#""op": "get", "output": "never-written""#,
        7,
        Some(100_000),
        "ok",
    );
    let report = judge(&text, 1_000);
    assert!(report.violated());
    assert_eq!(report.steps, 0, "rejected without searching");
    let why = &report.failures[0].explanation;
    assert!(
        why.contains("never-written") && why.contains("no write"),
        "{why}"
    );
    // Writes that certainly failed do not count as writers.
    let failed = line(1, r#""op": "put", "value": "f""#, 0, Some(5), "fail")
        + &line(2, r#""op": "get", "output": "f""#, 10, Some(20), "ok");
    assert!(judge(&failed, 1_000).violated());
}

#[test]
fn many_concurrent_unread_writes_then_an_impossible_read_are_decided_quickly() {
    // 24 puts all in flight together, none read; then a read of the initial state, which
    // no order allows. Decided within a small budget (2^24 orders without pruning).
    let mut text = String::new();
    for c in 0..24u64 {
        text += &line(
            c,
            &format!(r#""op": "put", "value": "v{c}""#),
            0,
            Some(100 + c),
            "ok",
        );
    }
    text += &line(99, r#""op": "get", "output": null"#, 500, Some(510), "ok");
    let report = judge(&text, 100_000);
    assert!(report.violated(), "{:?}", report.verdict());
    assert!(report.steps < 1_000, "{} steps", report.steps);
}

#[test]
fn explanations_speak_of_the_users_operations_in_the_users_units() {
    let text = line(1, r#""op": "put", "value": "a""#, 0, Some(10), "ok")
        + &line(1, r#""op": "put", "value": "b""#, 20, Some(30), "ok")
        + &line(2, r#""op": "get", "output": "a""#, 40, Some(50), "ok");
    let report = judge(&text, 1_000);
    let why = &report.failures[0].explanation;
    assert!(why.contains("called 40, returned 50"), "{why}");
    assert!(!why.contains("outcome is unknown"), "{why}");
    // An ok write nobody read is not called unknown either.
    let text = line(1, r#""op": "put", "value": "a""#, 0, Some(10), "ok")
        + &line(2, r#""op": "get", "output": null"#, 20, Some(30), "ok");
    let why = &judge(&text, 1_000).failures[0].explanation;
    assert!(!why.contains("unknown"), "{why}");
}

#[test]
fn a_history_with_nothing_completed_is_not_judged() {
    let text = line(1, r#""op": "put", "value": "a""#, 0, None, "unknown");
    assert!(matches!(
        judge(&text, 1_000).verdict(),
        Verdict::NotJudged(_)
    ));
}
