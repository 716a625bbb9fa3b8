//! The runner's modules, and the simulator's, are layered: no module uses one that uses it
//! back (directly or through others), so each can be read and tested from the bottom up.
//! The simulator has one allowed pair: its world (the handle) and an endpoint (a node's
//! view of it).

use std::collections::{BTreeMap, BTreeSet};

/// The text of a module: its file, or every file of its directory.
fn module_text(path: &std::path::Path) -> String {
    if !path.is_dir() {
        return std::fs::read_to_string(path).unwrap();
    }
    let mut files: Vec<_> = std::fs::read_dir(path)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.iter().map(|f| module_text(f)).collect()
}

/// module -> the modules of the crate in `dir` it names (`crate::x`).
fn uses(dir: &std::path::Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let module = path.file_stem().unwrap().to_string_lossy().to_string();
        if module == "lib" || module == "main" {
            continue;
        }
        let text = module_text(&path);
        let mut used = BTreeSet::new();
        for (i, _) in text.match_indices("crate::") {
            let rest = &text[i + "crate::".len()..];
            if rest.starts_with('{') {
                let list = &rest[1..rest.find('}').unwrap()];
                used.extend(
                    list.split(',')
                        .map(|m| m.trim().split("::").next().unwrap().to_string()),
                );
            } else {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                used.insert(name);
            }
        }
        used.remove(&module);
        used.retain(|m| !m.is_empty() && m != "run");
        graph.insert(module, used);
    }
    graph
}

/// Asserts no module of `graph` reaches itself.
fn no_cycles(graph: &BTreeMap<String, BTreeSet<String>>) {
    assert!(graph.len() > 10, "read {} modules", graph.len());
    for start in graph.keys() {
        // Everything reachable from `start`; reaching `start` again is a cycle.
        let mut seen = BTreeSet::new();
        let mut todo: Vec<&String> = graph[start].iter().collect();
        while let Some(m) = todo.pop() {
            assert!(m != start, "{start} reaches itself: {graph:#?}");
            if seen.insert(m.clone()) {
                todo.extend(graph.get(m).into_iter().flatten());
            }
        }
    }
}

#[test]
fn no_module_of_the_runner_uses_one_that_uses_it_back() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    no_cycles(&uses(&dir));
}

#[test]
fn no_module_of_the_simulator_uses_one_that_uses_it_back_but_world_and_endpoint() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/sim/src");
    let mut graph = uses(&dir);
    let endpoint = graph
        .get_mut("endpoint")
        .expect("the simulator has an endpoint module");
    assert!(
        endpoint.remove("world"),
        "the endpoint is a view of the world"
    );
    no_cycles(&graph);
}

#[test]
fn the_scenario_model_does_not_depend_on_the_simulator() {
    let manifest =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/scenario/Cargo.toml");
    let text = std::fs::read_to_string(manifest).unwrap();
    assert!(
        !text.lines().any(|l| l.trim_start().starts_with("sim")),
        "crates/scenario names sim: {text}"
    );
}
