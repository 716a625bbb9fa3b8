//! The checkers' own reference model of one key of the store: a register that may be
//! absent. It knows nothing of the node's store code.
//!
//! Revisions are global across keys, so a per-key model cannot check them; a
//! compare-and-swap on a modification revision is judged by its effect only (it may
//! succeed or fail whatever the value).

use proto::kv::{Compare, Op, OpResult};

/// The value of one key (`None`: absent).
pub type KeyState = Option<String>;

/// Applies `op` with the observed `result` (`None`: the outcome is unknown, so any
/// result is allowed) to `state`. Returns the new state, or `None` when the observed
/// result is impossible in `state`.
pub fn step(state: &KeyState, op: &Op, result: Option<&OpResult>) -> Option<KeyState> {
    match (op, result) {
        (Op::Put { value, .. }, _) => Some(Some(value.clone())),
        (Op::Get { .. }, Some(OpResult::Get { value, .. })) => {
            (value == state).then(|| state.clone())
        }
        (Op::Get { .. }, None) => Some(state.clone()),
        (Op::Delete { .. }, Some(OpResult::Delete { deleted, .. })) => {
            (*deleted == state.is_some()).then_some(None)
        }
        (Op::Delete { .. }, None) => Some(None),
        (Op::Cas { compare, value, .. }, result) => {
            let holds = match compare {
                Compare::Value(expected) => Some(expected == state),
                Compare::ModRevision(_) => None, // not decidable per key
            };
            match (holds, result) {
                (
                    Some(true),
                    Some(OpResult::Cas {
                        succeeded: true, ..
                    })
                    | None,
                ) => Some(Some(value.clone())),
                (
                    Some(false),
                    Some(OpResult::Cas {
                        succeeded: false, ..
                    })
                    | None,
                ) => Some(state.clone()),
                (
                    None,
                    Some(OpResult::Cas {
                        succeeded: true, ..
                    }),
                ) => Some(Some(value.clone())),
                (
                    None,
                    Some(OpResult::Cas {
                        succeeded: false, ..
                    }),
                ) => Some(state.clone()),
                (None, None) => Some(Some(value.clone())),
                _ => None,
            }
        }
        // A result of the wrong kind for the operation.
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(v: &str) -> Op {
        Op::Put {
            key: "k".into(),
            value: v.into(),
        }
    }

    #[test]
    fn reads_must_match_and_deletes_report_existence() {
        let s = Some("a".to_string());
        let get = Op::Get { key: "k".into() };
        let read = |v: Option<&str>| OpResult::Get {
            value: v.map(String::from),
            mod_revision: 0,
        };
        assert_eq!(step(&s, &get, Some(&read(Some("a")))), Some(s.clone()));
        assert_eq!(step(&s, &get, Some(&read(Some("b")))), None);
        assert_eq!(step(&None, &put("x"), None), Some(Some("x".into())));
        let del = Op::Delete { key: "k".into() };
        let deleted = |d| OpResult::Delete {
            deleted: d,
            revision: 0,
        };
        assert_eq!(step(&s, &del, Some(&deleted(true))), Some(None));
        assert_eq!(step(&None, &del, Some(&deleted(true))), None);
    }

    #[test]
    fn cas_on_value() {
        let cas = Op::Cas {
            key: "k".into(),
            compare: Compare::Value(Some("a".into())),
            value: "b".into(),
        };
        let r = |ok| OpResult::Cas {
            succeeded: ok,
            revision: 0,
        };
        let a = Some("a".to_string());
        assert_eq!(step(&a, &cas, Some(&r(true))), Some(Some("b".into())));
        assert_eq!(step(&a, &cas, Some(&r(false))), None);
        assert_eq!(step(&None, &cas, Some(&r(false))), Some(None));
        assert_eq!(step(&None, &cas, None), Some(None));
    }
}
