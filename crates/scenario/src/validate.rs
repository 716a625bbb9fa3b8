//! Parsing and validation with file:line errors.

use crate::schema::*;
use std::collections::BTreeSet;

/// A scenario file that cannot be run: what is wrong and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct ScenarioError {
    /// The file (as given).
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// What is wrong, in plain words.
    pub message: String,
}

/// The actions a step may take.
pub const ACTIONS: [&str; 23] = [
    "hold",
    "release",
    "disk",
    "crash",
    "power-loss",
    "torn-crash",
    "recover",
    "restart",
    "pause",
    "resume",
    "partition",
    "cut",
    "heal",
    "drop",
    "clear-drops",
    "failpoint",
    "disarm",
    "network",
    "write",
    "read",
    "campaign",
    "transfer",
    "note",
];

/// The kinds of expectations.
pub const EXPECTATIONS: [&str; 12] = [
    "failpoint-fired",
    "not-persisted-before",
    "acknowledged",
    "not-acknowledged",
    "applied-once",
    "never-applied",
    "never-committed-before",
    "truncated",
    "first-leader-after",
    "stepped-down",
    "logs-converged",
    "read-not-served",
];

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

struct Checker<'a> {
    file: &'a str,
    nodes: u64,
    saved: BTreeSet<String>,
    marks: BTreeSet<String>,
    labels: BTreeSet<String>,
    failpoints: &'a [&'a str],
}

impl Checker<'_> {
    fn node(&self, line: usize, r: &NodeRef, in_partition: bool) -> Result<(), ScenarioError> {
        let err = |message: String| ScenarioError {
            file: self.file.to_string(),
            line,
            message,
        };
        match r {
            NodeRef::Id(id) if *id >= 1 && *id <= self.nodes => Ok(()),
            NodeRef::Id(id) => Err(err(format!(
                "node {id} does not exist: the cluster has nodes 1 to {}",
                self.nodes
            ))),
            NodeRef::Name(name) => {
                if name == "leader"
                    || name == "followers"
                    || name == "all"
                    || (in_partition && name == "others")
                {
                    return Ok(());
                }
                if let Some(n) = name.strip_prefix("follower:") {
                    return match n.parse::<u64>() {
                        Ok(k) if k >= 1 && k < self.nodes => Ok(()),
                        _ => Err(err(format!(
                            "{name:?}: a {}-node cluster has followers 1 to {}",
                            self.nodes,
                            self.nodes - 1
                        ))),
                    };
                }
                if let Some(b) = name.strip_prefix('$') {
                    if self.saved.contains(b) {
                        return Ok(());
                    }
                    return Err(err(format!(
                        "{name:?} is not saved by an earlier step (use save = \"{b}\")"
                    )));
                }
                Err(err(format!(
                    "unknown node {name:?}: use a number, \"leader\", \"followers\", \"follower:N\", \"all\", \"$saved\"{}",
                    if in_partition { " or \"others\"" } else { "" }
                )))
            }
        }
    }
}

/// Parses and validates a scenario. `file` names it in errors; `failpoints` lists the
/// failpoint names the member knows.
pub fn parse(text: &str, file: &str, failpoints: &[&str]) -> Result<Scenario, ScenarioError> {
    let scenario: Scenario = toml::from_str(text).map_err(|e| ScenarioError {
        file: file.to_string(),
        line: e.span().map_or(1, |s| line_of(text, s.start)),
        message: e.message().trim().to_string(),
    })?;
    let at = |line: usize, message: String| ScenarioError {
        file: file.to_string(),
        line,
        message,
    };
    let nodes = scenario.cluster.nodes.unwrap_or(3);
    let top = |key: &str| {
        text.lines()
            .position(|l| l.trim_start().starts_with(key))
            .map_or(1, |i| i + 1)
    };
    if !(1..=9).contains(&nodes) {
        return Err(at(
            top("nodes"),
            format!("nodes = {nodes}: a cluster has 1 to 9 nodes"),
        ));
    }
    if scenario.duration_ms == 0 {
        return Err(at(
            top("duration_ms"),
            "duration_ms must be positive".into(),
        ));
    }
    crate::bounds::sections(&scenario).map_err(|(key, message)| at(top(key), message))?;
    if scenario.cluster.tick_skew_ppm.is_some_and(|s| s > 500_000) {
        return Err(at(
            top("tick_skew_ppm"),
            "tick_skew_ppm must be at most 500000 (a tick at most 50% fast or slow)".into(),
        ));
    }
    if scenario.cluster.tick_ms == Some(0) {
        return Err(at(top("tick_ms"), "tick_ms must be positive".into()));
    }
    if let Some(w) = &scenario.workload {
        if w.keys == Some(0) {
            return Err(at(top("keys"), "keys must be at least 1".into()));
        }
        if let Some(m) = &w.mix {
            let weights = [m.put, m.get, m.delete, m.cas, m.cas_revision];
            if weights.iter().map(|w| u64::from(*w)).sum::<u64>() == 0 {
                return Err(at(
                    top("mix"),
                    "the mix gives every operation weight 0".into(),
                ));
            }
        }
    }
    let mut c = Checker {
        file,
        nodes,
        saved: BTreeSet::new(),
        marks: BTreeSet::new(),
        labels: BTreeSet::new(),
        failpoints,
    };
    for spanned in &scenario.steps {
        let line = line_of(text, spanned.span().start);
        validate_step(&mut c, line, spanned.get_ref(), scenario.duration_ms)?;
    }
    for spanned in &scenario.expectations {
        let line = line_of(text, spanned.span().start);
        validate_expectation(&c, line, spanned.get_ref())?;
    }
    Ok(scenario)
}

fn validate_step(
    c: &mut Checker,
    line: usize,
    s: &Step,
    duration_ms: u64,
) -> Result<(), ScenarioError> {
    let err = |message: String| ScenarioError {
        file: c.file.to_string(),
        line,
        message,
    };
    if !ACTIONS.contains(&s.action.as_str()) {
        return Err(err(format!(
            "unknown action {:?}; one of: {}",
            s.action,
            ACTIONS.join(", ")
        )));
    }
    if s.at_ms.is_some() && s.after_ms.is_some() {
        return Err(err("give at_ms or after_ms, not both".into()));
    }
    if let Some(t) = s.at_ms {
        if t > duration_ms {
            return Err(err(format!(
                "at_ms = {t} is after the end of the run ({duration_ms} ms)"
            )));
        }
    }
    crate::bounds::step(s, duration_ms).map_err(err)?;
    let need = |field: &str, present: bool| {
        if present {
            Ok(())
        } else {
            Err(err(format!("action {:?} needs {field}", s.action)))
        }
    };
    match s.action.as_str() {
        "crash" | "power-loss" | "torn-crash" | "recover" | "restart" | "pause" | "resume"
        | "campaign" => need("node", s.node.is_some())?,
        "partition" => need("groups", s.groups.is_some())?,
        "cut" => need("from and to", s.from.is_some() && s.to.is_some())?,
        "transfer" => need(
            "node (the leader) and to",
            s.node.is_some() && s.to.is_some(),
        )?,
        "failpoint" => {
            need(
                "failpoint and fail_action",
                s.failpoint.is_some() && s.fail_action.is_some(),
            )?;
            let name = s.failpoint.as_deref().unwrap_or_default();
            if !c.failpoints.contains(&name) {
                return Err(err(format!(
                    "unknown failpoint {name:?}; one of: {}",
                    c.failpoints.join(", ")
                )));
            }
            let action = s.fail_action.as_deref().unwrap_or_default();
            if !["crash", "power-loss", "torn-crash", "pause", "drop"].contains(&action) {
                return Err(err(format!(
                    "unknown fail_action {action:?}; one of: crash, power-loss, torn-crash, pause, drop"
                )));
            }
        }
        "drop" | "hold" => {
            if let Some(kind) = &s.kind {
                if proto::raft::MessageType::from_name(kind).is_none() {
                    let all: Vec<&str> = proto::raft::MessageType::ALL
                        .iter()
                        .map(|k| k.name())
                        .collect();
                    return Err(err(format!(
                        "unknown message kind {kind:?}; one of: {}",
                        all.join(", ")
                    )));
                }
            }
        }
        "write" | "read" => {
            need("key", s.key.is_some())?;
            need("mark", s.mark.is_some())?;
            let mark = s.mark.clone().unwrap_or_default();
            if !c.marks.insert(mark.clone()) {
                return Err(err(format!(
                    "mark {mark:?} is already used by an earlier step"
                )));
            }
        }
        _ => {}
    }
    for r in [&s.node, &s.from, &s.to].into_iter().flatten() {
        c.node(line, r, false)?;
    }
    if let Some(groups) = &s.groups {
        if groups.len() < 2 {
            return Err(err("a partition needs at least two groups".into()));
        }
        for r in groups.iter().flatten() {
            c.node(line, r, true)?;
        }
    }
    if let Some(w) = &s.when {
        for r in [&w.leader_not, &w.stepped_down].into_iter().flatten() {
            c.node(line, r, false)?;
        }
        if let Some(on) = &w.on {
            if on != &NodeRef::Name("all".into()) && on != &NodeRef::Name("majority".into()) {
                c.node(line, on, false)?;
            }
        }
        if let Some(entry) = &w.entry {
            if !c.marks.contains(entry) {
                return Err(err(format!(
                    "condition names entry {entry:?}, which no earlier write marks"
                )));
            }
            let state = w.state.as_deref().unwrap_or("persisted");
            if !["persisted", "committed", "applied"].contains(&state) {
                return Err(err(format!(
                    "unknown entry state {state:?}; one of: persisted, committed, applied"
                )));
            }
        }
        if w.leader.is_none() && w.entry.is_none() && w.stepped_down.is_none() {
            return Err(err("a condition needs leader, entry or stepped_down".into()));
        }
    }
    if let Some(name) = &s.save {
        c.saved.insert(name.clone());
    }
    if let Some(label) = &s.label {
        if !c.labels.insert(label.clone()) {
            return Err(err(format!(
                "label {label:?} is already used by an earlier step (expectations name steps by label)"
            )));
        }
    }
    Ok(())
}

fn validate_expectation(c: &Checker, line: usize, e: &Expectation) -> Result<(), ScenarioError> {
    let err = |message: String| ScenarioError {
        file: c.file.to_string(),
        line,
        message,
    };
    if !EXPECTATIONS.contains(&e.kind.as_str()) {
        return Err(err(format!(
            "unknown expectation {:?}; one of: {}",
            e.kind,
            EXPECTATIONS.join(", ")
        )));
    }
    let needs_mark = !matches!(
        e.kind.as_str(),
        "first-leader-after" | "stepped-down" | "logs-converged" | "failpoint-fired"
    );
    if needs_mark {
        let Some(mark) = &e.mark else {
            return Err(err(format!("expectation {:?} needs mark", e.kind)));
        };
        if !c.marks.contains(mark) {
            return Err(err(format!(
                "mark {mark:?} is not defined by any write or read step"
            )));
        }
    }
    if matches!(
        e.kind.as_str(),
        "truncated"
            | "first-leader-after"
            | "stepped-down"
            | "failpoint-fired"
            | "not-persisted-before"
    ) && e.node.is_none()
    {
        return Err(err(format!("expectation {:?} needs node", e.kind)));
    }
    if let Some(r) = &e.node {
        c.node(line, r, false)?;
    }
    if matches!(
        e.kind.as_str(),
        "first-leader-after" | "never-committed-before" | "not-persisted-before"
    ) {
        match &e.step {
            None => {
                return Err(err(format!(
                    "expectation {:?} needs step (a step's label)",
                    e.kind
                )))
            }
            Some(label) if !c.labels.contains(label) => {
                return Err(err(format!("no step is labelled {label:?}")));
            }
            Some(_) => {}
        }
    }
    Ok(())
}
