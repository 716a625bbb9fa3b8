//! `--trace FILE.json` writes a Chrome trace-event file that Perfetto opens: its structure
//! is checked here (tracks, spans, flows, instants, metadata). `--trace FILE.jsonl` starts
//! with a header line.

use serde_json::Value;
use std::collections::BTreeMap;
use std::process::Command;

fn run_with_trace(file: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(file);
    let out = Command::new(env!("CARGO_BIN_EXE_sim-runner"))
        .args(["--scenario", "split-brain", "--seed", "0", "--trace"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(&path).unwrap()
}

#[test]
fn the_json_trace_has_the_structure_perfetto_reads() {
    let trace: Value = serde_json::from_str(&run_with_trace("sb.json")).unwrap();
    assert_eq!(trace["metadata"]["scenario"], "split-brain");
    assert_eq!(trace["metadata"]["seed"], 0);
    assert!(trace["metadata"]["trace_hash"].is_string());
    let events = trace["traceEvents"].as_array().unwrap();
    let ph = |e: &Value| e["ph"].as_str().unwrap_or_default().to_string();
    for e in events {
        assert!(e["pid"].is_u64(), "{e}");
        if ph(e) != "M" {
            assert!(e["ts"].as_f64().is_some_and(|t| t >= 0.0), "{e}");
        }
        if ph(e) == "X" {
            assert!(e["dur"].as_f64().is_some_and(|d| d >= 0.0), "{e}");
        }
    }
    // A named process per member (5) plus the scenario and the clients.
    let processes = events
        .iter()
        .filter(|e| ph(e) == "M" && e["name"] == "process_name")
        .count();
    assert_eq!(processes, 7);
    // Role spans: someone led.
    assert!(events
        .iter()
        .any(|e| ph(e) == "X" && e["name"].as_str().unwrap().starts_with("leader")));
    // Every flow end has its start, no later than it.
    let starts: BTreeMap<u64, f64> = events
        .iter()
        .filter(|e| ph(e) == "s")
        .map(|e| (e["id"].as_u64().unwrap(), e["ts"].as_f64().unwrap()))
        .collect();
    let ends: Vec<&Value> = events.iter().filter(|e| ph(e) == "f").collect();
    assert!(!ends.is_empty());
    for f in ends {
        let start = starts[&f["id"].as_u64().unwrap()];
        assert!(start <= f["ts"].as_f64().unwrap());
    }
    // The partition is a global instant; client operations are spans on client tracks.
    assert!(events
        .iter()
        .any(|e| ph(e) == "i" && e["name"].as_str().unwrap().starts_with("partition")));
    assert!(events.iter().any(|e| ph(e) == "X" && e["pid"] == 1_000_000));
}

#[test]
fn the_json_lines_trace_starts_with_a_header() {
    let text = run_with_trace("sb.jsonl");
    let mut lines = text.lines();
    let header: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(
        header["trace_format"],
        sim_runner::artifacts::FORMAT_VERSION
    );
    assert_eq!(header["scenario"], "split-brain");
    assert!(header["build"]["commit"].is_string(), "{header}");
    let first: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert!(first["time_ns"].is_u64());
}
