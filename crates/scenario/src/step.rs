//! One step of a scenario's timeline: when it fires and what it does.

use crate::noderef::NodeRef;
use proto::raft::MessageType;
use serde::{Deserialize, Serialize};

/// One step of the timeline: when it fires (the keys common to every step) and what it
/// does (`action` and that action's own keys).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Step {
    /// Shown in the story; expectations name steps by label.
    pub label: Option<String>,
    /// Fire at this simulated time (milliseconds).
    pub at_ms: Option<u64>,
    /// Fire this long after the previous step fired (milliseconds; default 0).
    pub after_ms: Option<u64>,
    /// Fire when this holds (checked every simulated millisecond after `at_ms`/`after_ms`).
    pub when: Option<Condition>,
    /// Give up waiting for `when` after this long (milliseconds); the run then fails.
    pub timeout_ms: Option<u64>,
    /// When the action cannot be carried out (there is no leader, the member is down),
    /// skip it with a note instead of failing the run.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub optional: bool,
    /// Save the resolved `node` (or, if the action has none, the current leader) under
    /// this name, for `"$name"` in later steps.
    pub save: Option<String>,
    /// What to do.
    #[serde(flatten)]
    pub action: Action,
}

impl Step {
    /// A step that fires at `at_ms`.
    pub fn at(at_ms: u64, label: impl Into<String>, action: Action) -> Step {
        Step {
            label: Some(label.into()),
            at_ms: Some(at_ms),
            after_ms: None,
            when: None,
            timeout_ms: None,
            optional: false,
            save: None,
            action,
        }
    }

    /// Its label, or its action's name.
    pub fn describe(&self) -> String {
        self.label
            .clone()
            .unwrap_or_else(|| self.action.name().to_string())
    }
}

/// What a step does; the file's `action` key names the variant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "action", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Action {
    /// Kill the member's process (unsynced writes survive in the page cache).
    Crash {
        /// The member.
        node: NodeRef,
    },
    /// Cut the member's power: unsynced writes are lost.
    PowerLoss {
        /// The member.
        node: NodeRef,
    },
    /// Cut the member's power mid-write: unsynced writes are torn.
    TornCrash {
        /// The member.
        node: NodeRef,
    },
    /// Cut the member's power with its unsynced writes persisted out of order: each is
    /// kept, lost or torn independently (a strict log may then find a bad record with
    /// good ones after it and rightly refuse to start).
    ReorderedCrash {
        /// The member.
        node: NodeRef,
    },
    /// Flip one bit of synced data on a stopped member's disk. It must then recover all
    /// it made durable or refuse to start with a typed corruption error.
    BitRot {
        /// The member (down).
        node: NodeRef,
    },
    /// Write one synced sector of a stopped member's file over another sector of it (a
    /// write that landed at the wrong address); judged like bit rot.
    MisdirectedWrite {
        /// The member (down).
        node: NodeRef,
    },
    /// Restart the members that are down and resume the paused ones.
    Recover {
        /// The members.
        node: NodeRef,
    },
    /// Restart the member (it must be down).
    Restart {
        /// The member.
        node: NodeRef,
    },
    /// Stop scheduling the member (its timers and messages wait).
    Pause {
        /// The member.
        node: NodeRef,
    },
    /// Let a paused member run again.
    Resume {
        /// The member.
        node: NodeRef,
    },
    /// Tell the member to start an election now.
    Campaign {
        /// The member.
        node: NodeRef,
    },
    /// Ask the leader to hand leadership over.
    Transfer {
        /// The leader.
        node: NodeRef,
        /// The member to take over.
        to: NodeRef,
    },
    /// Split the network into groups that cannot reach each other.
    Partition {
        /// At least two groups; `"others"` in one group means every member not named.
        groups: Vec<Vec<NodeRef>>,
    },
    /// Cut the link one way.
    Cut {
        /// Sending side.
        from: NodeRef,
        /// Receiving side.
        to: NodeRef,
    },
    /// Undo every partition and cut.
    Heal {},
    /// Drop matching messages.
    Drop(MessageFilter),
    /// Hold matching messages back until `release` (they arrive late, not never).
    Hold(MessageFilter),
    /// Deliver every held message.
    Release {},
    /// Remove every drop and hold rule.
    ClearDrops {},
    /// Arm a failpoint: the member crashes, loses power, pauses or drops a message when it
    /// reaches that protocol point.
    Failpoint {
        /// The member (default: any member).
        node: Option<NodeRef>,
        /// The failpoint's name.
        failpoint: String,
        /// What happens there.
        fail_action: FailAction,
        /// How many times it fires (default 1).
        count: Option<u64>,
    },
    /// Disarm every failpoint.
    Disarm {},
    /// Change the random network faults (keys left out keep their value).
    Network(NetworkChange),
    /// Change every member's disk latency and slow syncs (from the scenario's `[disk]`).
    Disk(DiskChange),
    /// A scripted client writes `key`.
    Write(Request),
    /// A scripted client reads `key`.
    Read(Request),
    /// Nothing but a line in the story (with `node` and `save`, it names a member for
    /// later steps).
    Note {
        /// The member to save.
        node: Option<NodeRef>,
    },
    /// Start a new member with an empty disk and ask the leader to add it as a learner
    /// (it receives the log but does not vote).
    AddLearner {
        /// The new member's id (default: the next id never used).
        node: Option<NodeRef>,
    },
    /// Ask the leader to add a voter: a new member with an empty disk (started here), or
    /// an existing learner (a promotion).
    AddVoter {
        /// The member (default: a new member with the next id never used).
        node: Option<NodeRef>,
    },
    /// Start `count` new members and ask the leader to add them all as voters in one
    /// change, through a joint configuration.
    AddVoters {
        /// How many.
        count: u64,
    },
    /// Ask the leader to promote a learner to voter.
    Promote {
        /// The learner.
        node: NodeRef,
    },
    /// Ask the leader to remove a member (the leader itself included: it steps down once
    /// the change commits).
    Remove {
        /// The member.
        node: NodeRef,
    },
    /// Replace a member: start a new member with a new id and an empty disk, and ask the
    /// leader to remove the old one and add the new one as a voter in one joint change.
    Replace {
        /// The member to replace.
        node: NodeRef,
    },
    /// Erase a stopped member's disk (every file). Restarted under its old id it refuses
    /// to start: it must be replaced.
    WipeDisk {
        /// The member (down).
        node: NodeRef,
    },
}

impl Action {
    /// The name written in the file's `action` key.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Crash { .. } => "crash",
            Action::PowerLoss { .. } => "power-loss",
            Action::TornCrash { .. } => "torn-crash",
            Action::ReorderedCrash { .. } => "reordered-crash",
            Action::BitRot { .. } => "bit-rot",
            Action::MisdirectedWrite { .. } => "misdirected-write",
            Action::Recover { .. } => "recover",
            Action::Restart { .. } => "restart",
            Action::Pause { .. } => "pause",
            Action::Resume { .. } => "resume",
            Action::Campaign { .. } => "campaign",
            Action::Transfer { .. } => "transfer",
            Action::Partition { .. } => "partition",
            Action::Cut { .. } => "cut",
            Action::Heal {} => "heal",
            Action::Drop(_) => "drop",
            Action::Hold(_) => "hold",
            Action::Release {} => "release",
            Action::ClearDrops {} => "clear-drops",
            Action::Failpoint { .. } => "failpoint",
            Action::Disarm {} => "disarm",
            Action::Network(_) => "network",
            Action::Disk(_) => "disk",
            Action::Write(_) => "write",
            Action::Read(_) => "read",
            Action::Note { .. } => "note",
            Action::AddLearner { .. } => "add-learner",
            Action::AddVoter { .. } => "add-voter",
            Action::AddVoters { .. } => "add-voters",
            Action::Promote { .. } => "promote",
            Action::Remove { .. } => "remove",
            Action::Replace { .. } => "replace",
            Action::WipeDisk { .. } => "wipe-disk",
        }
    }

    /// The member the action is aimed at (what `save` saves), if it names one.
    pub fn node(&self) -> Option<&NodeRef> {
        match self {
            Action::Crash { node }
            | Action::PowerLoss { node }
            | Action::TornCrash { node }
            | Action::ReorderedCrash { node }
            | Action::BitRot { node }
            | Action::MisdirectedWrite { node }
            | Action::Restart { node }
            | Action::Pause { node }
            | Action::Resume { node }
            | Action::Campaign { node }
            | Action::Promote { node }
            | Action::Remove { node }
            | Action::Replace { node }
            | Action::WipeDisk { node }
            | Action::Transfer { node, .. } => Some(node),
            Action::Failpoint { node, .. }
            | Action::Note { node }
            | Action::AddLearner { node }
            | Action::AddVoter { node } => node.as_ref(),
            Action::Write(r) | Action::Read(r) => r.node.as_ref(),
            Action::Recover { .. }
            | Action::Partition { .. }
            | Action::Cut { .. }
            | Action::Heal {}
            | Action::Drop(_)
            | Action::Hold(_)
            | Action::Release {}
            | Action::ClearDrops {}
            | Action::Disarm {}
            | Action::Network(_)
            | Action::AddVoters { .. }
            | Action::Disk(_) => None,
        }
    }

    /// Every member reference in the action, with whether `"others"` is allowed there.
    pub fn refs(&self) -> Vec<(&NodeRef, bool)> {
        match self {
            Action::Recover { node } => vec![(node, false)],
            Action::Transfer { node, to } => vec![(node, false), (to, false)],
            Action::Cut { from, to } => vec![(from, false), (to, false)],
            Action::Partition { groups } => groups.iter().flatten().map(|r| (r, true)).collect(),
            Action::Drop(f) | Action::Hold(f) => [&f.from, &f.to]
                .into_iter()
                .flatten()
                .map(|r| (r, false))
                .collect(),
            other => other.node().into_iter().map(|r| (r, false)).collect(),
        }
    }
}

/// `drop` and `hold`: which messages.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageFilter {
    /// Sending side (default: any).
    pub from: Option<NodeRef>,
    /// Receiving side (default: any).
    pub to: Option<NodeRef>,
    /// Raft message kind (default: any message, client traffic included).
    pub kind: Option<MessageKind>,
    /// How many messages (default: all until `clear-drops`).
    pub count: Option<u64>,
    /// Only appends that carry entries of the sender's current term.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub current_term_entries: bool,
    /// Let this many matching messages through first.
    pub pass_first: Option<u64>,
}

/// A Raft message kind, written as in traces: `append`, `append-resp`, `vote`, …
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MessageKind(pub MessageType);

impl TryFrom<String> for MessageKind {
    type Error = String;

    fn try_from(name: String) -> Result<Self, String> {
        MessageType::from_name(&name)
            .map(MessageKind)
            .ok_or_else(|| {
                let all: Vec<&str> = MessageType::ALL.iter().map(|k| k.name()).collect();
                format!("unknown message kind {name:?}; one of: {}", all.join(", "))
            })
    }
}

impl schemars::JsonSchema for MessageKind {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "MessageKind".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let names: Vec<&str> = MessageType::ALL.iter().map(|k| k.name()).collect();
        schemars::json_schema!({ "type": "string", "enum": names })
    }
}

impl From<MessageKind> for String {
    fn from(k: MessageKind) -> String {
        k.0.name().to_string()
    }
}

/// What a failpoint does when it fires: the member's own type.
pub use node::FailAction;

/// `network`: the random network faults from now on; keys left out keep their value.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetworkChange {
    /// Message loss, parts per million.
    pub loss_ppm: Option<u32>,
    /// Message duplication, parts per million.
    pub duplicate_ppm: Option<u32>,
    /// Latency lower bound, microseconds.
    pub latency_min_us: Option<u64>,
    /// Latency upper bound (exclusive), microseconds.
    pub latency_max_us: Option<u64>,
}

/// `disk`: every member's disk from now on, over the scenario's `[disk]` section.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DiskChange {
    /// Probability of a slow sync, parts per million.
    pub slow_sync_ppm: Option<u32>,
    /// Extra cost of a slow sync, microseconds.
    pub slow_sync_us: Option<u64>,
    /// Cost of a sync, microseconds.
    pub sync_latency_us: Option<u64>,
}

/// `write` and `read`: one request from a scripted client.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// The member asked first (default: the leader, or member 1 without one).
    pub node: Option<NodeRef>,
    /// The key.
    pub key: String,
    /// write: the value (default: the mark).
    pub value: Option<String>,
    /// Names the request, for conditions and expectations (unique in the file).
    pub mark: String,
    /// Retry at other members after a timeout or redirect (default true).
    pub retry: Option<bool>,
    /// Per-attempt timeout, milliseconds (default 500).
    pub request_timeout_ms: Option<u64>,
}

/// A condition for a step.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// A leader exists.
    pub leader: Option<bool>,
    /// ... and it is not this member.
    pub leader_not: Option<NodeRef>,
    /// The marked request's entry ...
    pub entry: Option<String>,
    /// ... has reached this state (default: persisted) ...
    pub state: Option<EntryState>,
    /// ... on these members: a reference, "all" or "majority" (default: the leader).
    pub on: Option<NodeRef>,
    /// This member is a follower in a term higher than when the step began waiting.
    pub stepped_down: Option<NodeRef>,
}

/// How far an entry has got on a member.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum EntryState {
    /// In its log, fsynced.
    #[default]
    Persisted,
    /// Known committed by it.
    Committed,
    /// Applied to its store.
    Applied,
}
