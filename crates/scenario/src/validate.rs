//! Parsing and validation with file:line errors. Deserialising the model rejects unknown
//! keys, unknown actions and keys an action does not take; what is left here are the
//! rules that span keys or steps: bounds, member references, marks, labels and times.

use crate::expectation::Expectation;
use crate::noderef::NodeRef;
use crate::schema::Scenario;
use crate::step::{Action, Condition, Step};
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

/// The keys every step may have besides its action's own.
const STEP_KEYS: &str = "label, at_ms, after_ms, when, timeout_ms, optional, save";

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The line of each `[[name]]` table header, in order.
fn headers(text: &str, name: &str) -> Vec<usize> {
    let header = format!("[[{name}]]");
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.trim() == header)
        .map(|(i, _)| i + 1)
        .collect()
}

/// A parse error's line. Errors inside a step or expectation (whose action's keys are
/// flattened into it) point at the table's header; move them to the line of the key or
/// value the message names (`key` or "value"), when the table has one.
fn error_line(text: &str, start: usize, message: &str) -> usize {
    let line = line_of(text, start);
    let key = message.split('`').nth(1);
    let value = message.split('"').nth(1).map(|v| format!("\"{v}\""));
    if key.is_none() && value.is_none() {
        return line;
    }
    text.lines()
        .enumerate()
        .skip(line)
        .take_while(|(_, l)| !l.trim_start().starts_with('['))
        .find(|(_, l)| {
            let (k, v) = l.split_once('=').unwrap_or((l, ""));
            let named = |name: &str| k.trim() == name || v.trim() == format!("\"{name}\"");
            key.is_some_and(named) || value.as_deref().is_some_and(|q| v.contains(q))
        })
        .map_or(line, |(i, _)| i + 1)
}

/// Parses and validates a scenario. `file` names it in errors; `failpoints` lists the
/// failpoint names the member knows.
pub fn parse(text: &str, file: &str, failpoints: &[&str]) -> Result<Scenario, ScenarioError> {
    let at = |line: usize, message: String| ScenarioError {
        file: file.to_string(),
        line,
        message,
    };
    let scenario: Scenario = toml::from_str(text).map_err(|e| {
        let mut message = e.message().trim().to_string();
        let start = e.span().map_or(0, |s| s.start);
        let line = error_line(text, start, &message);
        // "unknown variant" is serde's word: name the key instead ("unknown action").
        let key = text.lines().nth(line - 1).and_then(|l| l.split_once('='));
        if let (Some(rest), Some((key, _))) = (message.strip_prefix("unknown variant"), key) {
            message = format!("unknown {}{rest}", key.trim());
        }
        if message.starts_with("unknown field") && text[start..].starts_with("[[step]]") {
            message += &format!(" (or one of every step's keys: {STEP_KEYS})");
        }
        at(line, message)
    })?;
    let top = |key: &str| {
        text.lines()
            .position(|l| l.trim_start().starts_with(key))
            .map_or(1, |i| i + 1)
    };
    crate::bounds::sections(&scenario).map_err(|(key, message)| at(top(key), message))?;
    let mut c = Checker {
        nodes: scenario.cluster.nodes + added_members(&scenario.steps),
        duration_ms: scenario.duration_ms,
        saved: BTreeSet::new(),
        marks: BTreeSet::new(),
        labels: BTreeSet::new(),
        failpoints,
    };
    let step_lines = headers(text, "step");
    for (i, step) in scenario.steps.iter().enumerate() {
        let line = step_lines.get(i).copied().unwrap_or(1);
        c.step(step).map_err(|m| at(line, m))?;
    }
    let expect_lines = headers(text, "expect");
    for (i, e) in scenario.expectations.iter().enumerate() {
        let line = expect_lines.get(i).copied().unwrap_or(1);
        c.expectation(e).map_err(|m| at(line, m))?;
    }
    Ok(scenario)
}

/// How many members the steps may start (each new id is one more than the last used).
fn added_members(steps: &[Step]) -> u64 {
    steps
        .iter()
        .map(|s| match &s.action {
            Action::AddLearner { .. } | Action::AddVoter { .. } | Action::Replace { .. } => 1,
            Action::AddVoters { count } => *count,
            _ => 0,
        })
        .sum()
}

/// What the steps so far have defined, to check later references against.
struct Checker<'a> {
    nodes: u64,
    duration_ms: u64,
    saved: BTreeSet<String>,
    marks: BTreeSet<String>,
    labels: BTreeSet<String>,
    failpoints: &'a [&'a str],
}

/// Where a member reference stands, which decides the words it may use.
#[derive(PartialEq)]
enum Place {
    Anywhere,
    Partition,
    On,
}

impl Checker<'_> {
    fn node(&self, r: &NodeRef, place: Place) -> Result<(), String> {
        match r {
            NodeRef::Id(id) if (1..=self.nodes).contains(id) => Ok(()),
            NodeRef::Id(id) => Err(format!(
                "node {id} does not exist: the cluster has nodes 1 to {}",
                self.nodes
            )),
            NodeRef::Follower(k) if *k < self.nodes => Ok(()),
            NodeRef::Follower(_) => Err(format!(
                "\"{r}\": a {}-node cluster has followers 1 to {}",
                self.nodes,
                self.nodes - 1
            )),
            NodeRef::Saved(b) if self.saved.contains(b) => Ok(()),
            NodeRef::Saved(b) => Err(format!(
                "\"{r}\" is not saved by an earlier step (use save = \"{b}\")"
            )),
            NodeRef::Others if place != Place::Partition => {
                Err("\"others\" names members only in a partition's groups".into())
            }
            NodeRef::Majority if place != Place::On => {
                Err("\"majority\" names members only in a condition's `on`".into())
            }
            NodeRef::Leader
            | NodeRef::Followers
            | NodeRef::All
            | NodeRef::Others
            | NodeRef::Majority => Ok(()),
        }
    }

    fn step(&mut self, s: &Step) -> Result<(), String> {
        self.timing(s)?;
        for (r, in_partition) in s.action.refs() {
            let place = if in_partition {
                Place::Partition
            } else {
                Place::Anywhere
            };
            self.node(r, place)?;
        }
        self.action(&s.action)?;
        if let Some(w) = &s.when {
            self.condition(w)?;
        }
        if let Some(name) = &s.save {
            self.saved.insert(name.clone());
        }
        if let Some(label) = &s.label {
            if !self.labels.insert(label.clone()) {
                return Err(format!(
                    "label {label:?} is already used by an earlier step (expectations name steps by label)"
                ));
            }
        }
        Ok(())
    }

    fn timing(&self, s: &Step) -> Result<(), String> {
        let end = self.duration_ms;
        if s.at_ms.is_some() && s.after_ms.is_some() {
            return Err("give at_ms or after_ms, not both".into());
        }
        if let Some(t) = s.at_ms.filter(|t| *t > end) {
            return Err(format!(
                "at_ms = {t} is after the end of the run ({end} ms)"
            ));
        }
        if let Some(t) = s.after_ms.filter(|t| *t > end) {
            return Err(format!(
                "after_ms = {t} is longer than the whole run ({end} ms)"
            ));
        }
        if s.timeout_ms.is_some() && s.when.is_none() {
            return Err("timeout_ms bounds the wait for `when`: this step has none".into());
        }
        Ok(())
    }

    fn action(&mut self, a: &Action) -> Result<(), String> {
        match a {
            Action::Partition { groups } => partition(groups),
            Action::Cut { from, to } if same_member(from, to) => {
                Err("a cut from a member to itself cuts nothing".into())
            }
            Action::Transfer { node, to } if same_member(node, to) => {
                Err("a transfer from a member to itself moves nothing".into())
            }
            Action::Failpoint { failpoint, .. } if !self.failpoints.contains(&&**failpoint) => {
                Err(format!(
                    "unknown failpoint {failpoint:?}; one of: {}",
                    self.failpoints.join(", ")
                ))
            }
            Action::Write(r) | Action::Read(r) => {
                if self.marks.insert(r.mark.clone()) {
                    Ok(())
                } else {
                    Err(format!(
                        "mark {:?} is already used by an earlier step",
                        r.mark
                    ))
                }
            }
            Action::AddVoters { count } if !(1..=8).contains(count) => Err(format!(
                "add-voters count = {count}: add 1 to 8 members in one change"
            )),
            _ => Ok(()),
        }
    }

    fn condition(&self, w: &Condition) -> Result<(), String> {
        for r in [&w.leader_not, &w.stepped_down].into_iter().flatten() {
            self.node(r, Place::Anywhere)?;
        }
        if let Some(on) = &w.on {
            self.node(on, Place::On)?;
        }
        if let Some(entry) = &w.entry {
            if !self.marks.contains(entry) {
                return Err(format!(
                    "condition names entry {entry:?}, which no earlier write marks"
                ));
            }
        } else if w.state.is_some() || w.on.is_some() {
            return Err("a condition's state and on are about an entry: give entry".into());
        }
        if w.leader.is_none() && w.entry.is_none() && w.stepped_down.is_none() {
            return Err("a condition needs leader, entry or stepped_down".into());
        }
        if w.leader_not.is_some() && w.leader != Some(true) {
            return Err("leader_not needs leader = true".into());
        }
        Ok(())
    }

    fn expectation(&self, e: &Expectation) -> Result<(), String> {
        if let Some(mark) = e.kind.mark() {
            if !self.marks.contains(mark) {
                return Err(format!(
                    "mark {mark:?} is not defined by any write or read step"
                ));
            }
        }
        if let Some(r) = e.kind.node() {
            self.node(r, Place::Anywhere)?;
        }
        match e.kind.step() {
            Some(label) if !self.labels.contains(label) => {
                Err(format!("no step is labelled {label:?}"))
            }
            _ => Ok(()),
        }
    }
}

fn same_member(a: &NodeRef, b: &NodeRef) -> bool {
    matches!((a, b), (NodeRef::Id(x), NodeRef::Id(y)) if x == y)
}

fn partition(groups: &[Vec<NodeRef>]) -> Result<(), String> {
    if groups.len() < 2 {
        return Err("a partition needs at least two groups".into());
    }
    if groups.iter().any(|g| g.is_empty()) {
        return Err("a partition group is empty".into());
    }
    let mut seen: Vec<&NodeRef> = Vec::new();
    for r in groups.iter().flatten() {
        if seen.contains(&r) {
            let who = match r {
                NodeRef::Id(id) => format!("member {id}"),
                other => format!("\"{other}\""),
            };
            return Err(format!("{who} is in two partition groups"));
        }
        seen.push(r);
    }
    Ok(())
}
