//! Coverage marks: the code and the list in `marks::ALL` agree, and a sweep counts them.

use sim_runner::{judge, scenarios};
use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every `mark!("name")` in the crates' sources.
fn marks_in_code() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let mut names = Vec::new();
    for f in files.iter().filter(|f| !f.ends_with("marks/src/lib.rs")) {
        let text = std::fs::read_to_string(f).unwrap();
        for part in text.split("mark!(\"").skip(1) {
            names.push(part.split('"').next().unwrap().to_string());
        }
    }
    names.sort();
    names.dedup();
    names
}

#[test]
fn the_code_and_the_list_of_marks_agree() {
    let in_code = marks_in_code();
    for name in &in_code {
        assert!(marks::is_listed(name), "mark {name:?} is not in marks::ALL");
    }
    for (name, _) in marks::ALL {
        assert!(
            in_code.iter().any(|n| n == name),
            "listed mark {name:?} is not in the code"
        );
    }
    assert!(marks::ALL.len() >= 30, "{} marks", marks::ALL.len());
}

#[test]
fn a_run_counts_the_marks_it_passes() {
    let loaded = scenarios::load("chaos").unwrap();
    let run = judge::run(&loaded, 0, sim::Canaries::default());
    assert!(run
        .marks_hit
        .get("raft.vote.granted")
        .is_some_and(|n| *n > 0));
    assert!(run.marks_hit.keys().all(|m| marks::is_listed(m)));
    // Counting stopped with the run.
    marks::mark!("raft.vote.granted");
    assert!(marks::take().is_empty());
}
