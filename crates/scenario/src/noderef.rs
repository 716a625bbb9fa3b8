//! References to members in steps, conditions and expectations.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A reference to members, written as a number or a word: `"leader"`, `"followers"`,
/// `"follower:N"` (the N-th follower of the current leader, by id, from 1), `"all"`,
/// `"others"` (in a partition: every member not named in another group), `"majority"`
/// (in a condition's `on`), or `"$name"` (what an earlier step saved).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "RefText", into = "RefText")]
pub enum NodeRef {
    /// A member id.
    Id(u64),
    /// Whoever leads when the step fires.
    Leader,
    /// Every member but the leader.
    Followers,
    /// The N-th follower of the current leader, by id, from 1.
    Follower(u64),
    /// Every member.
    All,
    /// In a partition: every member not named in another group.
    Others,
    /// In a condition's `on`: more than half of the members.
    Majority,
    /// What an earlier step saved under this name (written `"$name"`).
    Saved(String),
}

/// How a reference is written in the file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RefText {
    /// A member id.
    Id(u64),
    /// A word.
    Word(String),
}

impl TryFrom<RefText> for NodeRef {
    type Error = String;

    fn try_from(t: RefText) -> Result<Self, String> {
        let word = match t {
            RefText::Id(id) => return Ok(NodeRef::Id(id)),
            RefText::Word(w) => w,
        };
        Ok(match word.as_str() {
            "leader" => NodeRef::Leader,
            "followers" => NodeRef::Followers,
            "all" => NodeRef::All,
            "others" => NodeRef::Others,
            "majority" => NodeRef::Majority,
            w => {
                if let Some(k) = w.strip_prefix("follower:") {
                    let k = k
                        .parse::<u64>()
                        .ok()
                        .filter(|k| *k >= 1)
                        .ok_or_else(|| format!("{w:?}: follower numbers start at 1"))?;
                    NodeRef::Follower(k)
                } else if let Some(name) = w.strip_prefix('$').filter(|n| !n.is_empty()) {
                    NodeRef::Saved(name.to_string())
                } else {
                    return Err(format!(
                        "unknown node {w:?}: use a number, \"leader\", \"followers\", \"follower:N\", \"all\", \"others\", \"majority\" or \"$saved\""
                    ));
                }
            }
        })
    }
}

impl From<NodeRef> for RefText {
    fn from(r: NodeRef) -> RefText {
        match r {
            NodeRef::Id(id) => RefText::Id(id),
            other => RefText::Word(other.to_string()),
        }
    }
}

impl fmt::Display for NodeRef {
    /// As written in a scenario file (a member id as its number).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeRef::Id(id) => write!(f, "{id}"),
            NodeRef::Leader => f.write_str("leader"),
            NodeRef::Followers => f.write_str("followers"),
            NodeRef::Follower(k) => write!(f, "follower:{k}"),
            NodeRef::All => f.write_str("all"),
            NodeRef::Others => f.write_str("others"),
            NodeRef::Majority => f.write_str("majority"),
            NodeRef::Saved(name) => write!(f, "${name}"),
        }
    }
}

impl schemars::JsonSchema for NodeRef {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "NodeRef".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": ["integer", "string"],
            "description": "a member: an id, \"leader\", \"followers\", \"follower:N\", \"all\", \"others\" (partitions), \"majority\" (a condition's `on`) or \"$saved\""
        })
    }
}
