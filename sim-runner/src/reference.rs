//! The scenario file reference, generated from the typed model (its JSON schema, with the
//! doc comments and the defaults of the very types the simulator runs with), so the
//! documentation cannot drift from the parser: `sim-runner schema` prints it and a test
//! compares it with the committed `docs/scenario-reference.md`.

use serde_json::{Map, Value};
use std::fmt::Write;

/// The reference as Markdown.
pub fn scenario_reference() -> String {
    let schema =
        serde_json::to_value(schemars::schema_for!(scenario::Scenario)).expect("a schema is JSON");
    let defs = schema["$defs"].as_object().cloned().unwrap_or_default();
    let mut out = String::from(HEADER);
    section(&mut out, "Top-level keys", &schema, &defs);
    for (key, def) in [
        ("[cluster]", "ClusterConfig"),
        ("[network]", "NetworkFaults"),
        ("[disk]", "DiskFaults"),
        ("[workload]", "Workload"),
        ("[workload] mix", "Mix"),
        ("[chaos]", "ChaosSection"),
        ("[liveness]", "Liveness"),
    ] {
        section(&mut out, &format!("`{key}`"), &defs[def], &defs);
    }
    section(
        &mut out,
        "`[[step]]`: keys of every step",
        &defs["Step"],
        &defs,
    );
    variants(&mut out, "Actions", "action", &defs["Step"], &defs);
    section(
        &mut out,
        "`when`: a step's condition",
        &defs["Condition"],
        &defs,
    );
    section(&mut out, "`[[expect]]`", &defs["Expectation"], &defs);
    variants(
        &mut out,
        "Expectation kinds",
        "kind",
        &defs["Expectation"],
        &defs,
    );
    values(&mut out, &defs);
    checkers(&mut out);
    out
}

/// What judges every run besides a file's `[[expect]]`: the checkers, and the rules trace
/// validation applies to every step (from `check::protocol::Rule`).
fn checkers(out: &mut String) {
    out.push_str(CHECKERS);
    for r in check::protocol::Rule::ALL {
        let _ = writeln!(out, "| `{}` | {} | {} |", r.name(), r.source(), r.meaning());
    }
}

const CHECKERS: &str = "
## Checkers

Beyond a file's `[[expect]]`, every run is judged by every checker (the README's table
says what each judges): election safety, log matching, leader completeness, the commit
rule, configuration safety, trace validation, state machine safety, linearizability,
durability, exactly-once, recoverability and liveness. A scenario needs no key to turn
them on, and cannot turn them off.

### Trace validation rules

Each member records one step per Ready of its Raft core (the input, its state before and
after, the messages it decided to send, the reads it confirmed). Trace validation walks
every member's steps with its own model and checks each against these rules; a verdict
line names the rule, the member, the step number and the time.

| rule | source | what it says |
|---|---|---|
";

const HEADER: &str = "# Scenario file reference

Generated from the scenario model by `cargo run --release -- schema`; do not edit by hand
(a test fails when this file and the model disagree). `CONTRIBUTING.md` explains how to
write a scenario; `scenarios/` has examples. Times are simulated milliseconds (`_ms`) or
microseconds (`_us`); probabilities are parts per million (`_ppm`). A key left out takes
the default shown. Validation also checks what spans keys (bounds, member references,
marks, labels); its errors say the file and line.
";

fn text(v: &Value) -> String {
    v.as_str()
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

/// A property's type in words.
fn type_of(p: &Value, defs: &Map<String, Value>) -> String {
    if let Some(r) = p["$ref"].as_str() {
        return ref_name(r, defs);
    }
    if let Some(any) = p["anyOf"].as_array() {
        let named: Vec<String> = any
            .iter()
            .filter(|a| a["type"] != "null")
            .map(|a| type_of(a, defs))
            .collect();
        return named.join(" or ");
    }
    let kind = match &p["type"] {
        Value::Array(ts) => ts
            .iter()
            .filter(|t| *t != "null")
            .filter_map(|t| t.as_str())
            .collect::<Vec<_>>()
            .join(" or "),
        Value::String(t) => t.clone(),
        _ => "value".into(),
    };
    match kind.as_str() {
        "array" => format!("list of {}", type_of(&p["items"], defs)),
        _ => kind,
    }
}

fn ref_name(r: &str, defs: &Map<String, Value>) -> String {
    let name = r.rsplit('/').next().unwrap_or(r);
    match name {
        "NodeRef" => "member".into(),
        "MessageKind" | "FailAction" | "EntryState" => {
            format!("[{name}](#{})", name.to_lowercase())
        }
        "Condition" => "table (see `when`)".into(),
        _ if defs.contains_key(name) => "table".into(),
        _ => name.into(),
    }
}

fn default_of(key: &str, p: &Value, required: &[Value]) -> String {
    if required.iter().any(|r| r == key) {
        return "required".into();
    }
    match &p["default"] {
        Value::Null => "—".into(),
        Value::Object(_) => "(below)".into(),
        v => format!("`{v}`"),
    }
}

/// A table of `schema`'s own properties.
fn section(out: &mut String, title: &str, schema: &Value, defs: &Map<String, Value>) {
    let _ = writeln!(out, "\n## {title}\n");
    if schema["description"].is_string() {
        let _ = writeln!(out, "{}\n", text(&schema["description"]));
    }
    table(out, schema, defs, None);
}

fn table(out: &mut String, schema: &Value, defs: &Map<String, Value>, skip: Option<&str>) {
    let Some(props) = schema["properties"].as_object() else {
        let _ = writeln!(out, "No keys of its own.");
        return;
    };
    let required = schema["required"].as_array().cloned().unwrap_or_default();
    let rows: Vec<(&String, &Value)> = props
        .iter()
        .filter(|(k, _)| Some(k.as_str()) != skip)
        .collect();
    if rows.is_empty() {
        let _ = writeln!(out, "No other keys.");
        return;
    }
    let _ = writeln!(out, "| key | type | default | meaning |\n|---|---|---|---|");
    for (key, p) in rows {
        let _ = writeln!(
            out,
            "| `{key}` | {} | {} | {} |",
            type_of(p, defs),
            default_of(key, p, &required),
            text(&p["description"])
        );
    }
}

/// One subsection per variant of a tagged enum (`tag` names the variant).
fn variants(out: &mut String, title: &str, tag: &str, schema: &Value, defs: &Map<String, Value>) {
    let _ = writeln!(out, "\n## {title}");
    for v in schema["oneOf"].as_array().into_iter().flatten() {
        let name = v["properties"][tag]["const"].as_str().unwrap_or("?");
        let _ = writeln!(
            out,
            "\n### `{tag} = \"{name}\"`\n\n{}\n",
            text(&v["description"])
        );
        table(out, v, defs, Some(tag));
    }
}

/// The words some keys take.
fn values(out: &mut String, defs: &Map<String, Value>) {
    let _ = writeln!(
        out,
        "\n## Values\n\n### member\n\n{}",
        text(&defs["NodeRef"]["description"])
    );
    let kinds: Vec<String> = defs["MessageKind"]["enum"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|k| format!("`{}`", k.as_str().unwrap_or_default()))
        .collect();
    let _ = writeln!(out, "\n### MessageKind\n\n{}.", kinds.join(", "));
    let points: Vec<String> = node::Failpoint::ALL
        .iter()
        .map(|f| format!("`{}`", f.name()))
        .collect();
    let _ = writeln!(out, "\n### Failpoints\n\n{}.", points.join(", "));
    for name in ["FailAction", "EntryState"] {
        let _ = writeln!(
            out,
            "\n### {name}\n\n{}\n",
            text(&defs[name]["description"])
        );
        for v in defs[name]["oneOf"].as_array().into_iter().flatten() {
            let _ = writeln!(
                out,
                "- `{}`: {}",
                v["const"].as_str().unwrap_or("?"),
                text(&v["description"])
            );
        }
    }
}
