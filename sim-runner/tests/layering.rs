//! The runner's modules are layered: no module uses one that uses it back (directly or
//! through others), so each can be read and tested from the bottom up.

use std::collections::{BTreeMap, BTreeSet};

/// module -> the modules of this crate it names (`crate::x`).
fn uses() -> BTreeMap<String, BTreeSet<String>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let module = path.file_stem().unwrap().to_string_lossy().to_string();
        if module == "lib" || module == "main" {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
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
        used.retain(|m| !m.is_empty());
        graph.insert(module, used);
    }
    graph
}

#[test]
fn no_module_uses_one_that_uses_it_back() {
    let graph = uses();
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
