// Over 500 lines only with its unit tests: the clients themselves are under 370.
//! Simulated clients: each runs one request at a time over a key space, with a timeout
//! per attempt, retries with the same client id and sequence number, and leader
//! discovery through redirects. Every operation is recorded in the history with its
//! simulated call and return times; an operation whose fate is unknown has no return.

use crate::board::MemberList;
use crate::endpoint::Endpoint;
use crate::rng::stream;
use crate::wire::Wire;
use config::Workload;
use proto::history::{HistoryOp, Outcome};
use proto::kv::{ClientError, ClientRequest, ClientResponse, Command, Compare, Op, OpResult};
use proto::trace::EventKind;
use proto::NodeId;
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The shared client history: finished operations, and those still in flight.
#[derive(Clone, Debug, Default)]
pub struct History(Arc<Mutex<Recorded>>);

/// What [`History`] holds.
#[derive(Debug, Default)]
struct Recorded {
    done: Vec<HistoryOp>,
    /// Operations called and not finished, by (client, sequence number).
    in_flight: std::collections::BTreeMap<(u64, u64), HistoryOp>,
}

impl History {
    fn lock(&self) -> std::sync::MutexGuard<'_, Recorded> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Notes an operation just called: if the run ends before it finishes, the history
    /// still holds it, with an unknown outcome (the log may have applied it).
    pub fn begin(&self, op: HistoryOp) {
        self.lock().in_flight.insert((op.client, op.seq), op);
    }

    /// Appends one finished operation.
    pub fn push(&self, op: HistoryOp) {
        let mut r = self.lock();
        r.in_flight.remove(&(op.client, op.seq));
        r.done.push(op);
    }

    /// Takes the operations recorded so far, those still in flight as unknown ones,
    /// sorted by call time.
    pub fn take(&self) -> Vec<HistoryOp> {
        let mut r = self.lock();
        let mut ops = std::mem::take(&mut r.done);
        ops.extend(std::mem::take(&mut r.in_flight).into_values());
        ops.sort_by_key(|o| (o.call_ns, o.client, o.seq));
        ops
    }

    /// Number of operations finished so far.
    pub fn len(&self) -> usize {
        self.lock().done.len()
    }

    /// Whether nothing was recorded yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What a client saw: each key's last value and modification revision, and the highest
/// store revision any answer reported.
#[derive(Clone, Debug, Default)]
struct Seen {
    keys: Vec<KeySeen>,
    revision: u64,
}

/// What a client last saw of one key: its value and modification revision.
#[derive(Clone, Debug, Default)]
struct KeySeen {
    value: Option<String>,
    mod_revision: u64,
}

fn draw_op(rng: &mut ChaCha8Rng, w: &Workload, client: NodeId, seq: u64, seen: &Seen) -> Op {
    let key_index = rng.gen_range(0..w.keys.max(1)) as usize;
    let key = format!("k{key_index}");
    // Every written value is unique, so a read names the write it saw.
    let value = format!("c{client}-{seq}");
    let m = &w.mix;
    let weights = m.weights().map(u64::from);
    // Summed as u64: weights near u32::MAX must not wrap.
    let total: u64 = weights.iter().sum();
    // Drawn as a u32 when it fits, as it always was, so existing runs keep their draws.
    let mut pick = match u32::try_from(total) {
        Ok(t) => u64::from(rng.gen_range(0..t.max(1))),
        Err(_) => rng.gen_range(0..total),
    };
    let kind = weights.iter().position(|w| {
        let hit = pick < *w;
        pick = pick.saturating_sub(*w);
        hit
    });
    let this_key = seen.keys.get(key_index);
    match kind {
        Some(0) => Op::Put { key, value },
        Some(1) => Op::Get { key },
        Some(2) => Op::Delete { key },
        Some(3) => Op::Cas {
            compare: Compare::Value(this_key.and_then(|s| s.value.clone())),
            key,
            value,
        },
        Some(k @ 5..) => {
            let draw = crate::multi_ops::Draw {
                keys: w.keys.max(1),
                value,
                revision: seen.revision,
            };
            crate::multi_ops::draw(rng, k, &draw, |i| {
                let s = seen.keys.get(i as usize);
                (
                    s.and_then(|s| s.value.clone()),
                    s.map_or(0, |s| s.mod_revision),
                )
            })
        }
        _ => Op::Cas {
            compare: Compare::ModRevision(this_key.map_or(0, |s| s.mod_revision)),
            key,
            value,
        },
    }
}

/// Updates what the client saw of the key after `op` succeeded with `result`.
fn remember(seen: &mut KeySeen, op: &Op, result: &OpResult) {
    match (op, result) {
        (Op::Put { value, .. }, OpResult::Put { revision }) => {
            *seen = KeySeen {
                value: Some(value.clone()),
                mod_revision: *revision,
            }
        }
        (
            Op::Get { .. },
            OpResult::Get {
                value,
                mod_revision,
            },
        ) => {
            *seen = KeySeen {
                value: value.clone(),
                mod_revision: *mod_revision,
            }
        }
        (Op::Delete { .. }, _) => *seen = KeySeen::default(),
        (
            Op::Cas { value, .. },
            OpResult::Cas {
                succeeded: true,
                revision,
            },
        ) => {
            *seen = KeySeen {
                value: Some(value.clone()),
                mod_revision: *revision,
            }
        }
        _ => {}
    }
}

/// The process of one client.
pub async fn client_actor(
    ep: Endpoint<Wire>,
    workload: Workload,
    members: MemberList,
    history: History,
) {
    let id = ep.id();
    let mut rng = stream(ep.seed(), "workload", id);
    let mut target = *members.get().choose(&mut rng).expect("at least one member");
    let mut seen = Seen {
        keys: vec![KeySeen::default(); workload.keys.max(1) as usize],
        revision: 0,
    };
    let start_ns = workload.start_ms * 1_000_000;
    if ep.now_ns() < start_ns {
        crate::Alarm::after(Duration::from_nanos(start_ns - ep.now_ns())).await;
    }
    let mut seq = 0u64;
    while workload
        .stop_ms
        .is_none_or(|stop| ep.now_ns() < stop * 1_000_000)
    {
        let think = rng.gen_range(0..=workload.think_ms);
        if think > 0 {
            madsim::time::sleep(Duration::from_millis(think)).await;
        }
        seq += 1;
        let op = draw_op(&mut rng, &workload, id, seq, &seen);
        let call_ns = ep.now_ns();
        history.begin(HistoryOp {
            client: id,
            seq,
            op: op.clone(),
            call_ns,
            return_ns: None,
            outcome: Outcome::Unknown,
        });
        let policy = RetryPolicy {
            retry: true,
            request_timeout_ms: workload.request_timeout_ms,
            op_timeout_ms: workload.op_timeout_ms,
        };
        // The members as they are now: membership changes add and remove some.
        let now_members = members.get();
        let (outcome, returned) =
            run_op(&ep, &policy, &now_members, &mut target, &mut rng, seq, &op).await;
        if let Outcome::Ok(result) = &outcome {
            seen.revision = seen.revision.max(crate::multi_ops::revision_of(result));
            let key_index = op.key().get(1..).and_then(|i| i.parse::<usize>().ok());
            if let Some(s) = key_index.and_then(|i| seen.keys.get_mut(i)) {
                remember(s, &op, result);
            }
        }
        finish(&ep, &history, seq, op, call_ns, outcome, returned);
    }
}

/// How a client insists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retry (same client id and sequence number) at other members after a timeout or a
    /// redirect; false: one attempt only.
    pub retry: bool,
    /// Time to wait for one attempt's answer, milliseconds.
    pub request_timeout_ms: u64,
    /// Give up after this long, milliseconds.
    pub op_timeout_ms: u64,
}

/// One scripted request a scenario makes (its "marked" write or read).
#[derive(Clone, Debug)]
pub struct ScriptedRequest {
    /// The operation.
    pub op: Op,
    /// The member it is first sent to.
    pub target: NodeId,
    /// How it insists.
    pub policy: RetryPolicy,
}

/// The process of a scripted client: one request, recorded in the history as sequence
/// number 1 of this client.
pub async fn scripted_actor(
    ep: Endpoint<Wire>,
    request: ScriptedRequest,
    members: MemberList,
    history: History,
) {
    let members = members.get();
    let mut rng = stream(ep.seed(), "scripted-client", ep.id());
    let mut target = request.target;
    let call_ns = ep.now_ns();
    let (outcome, returned) = run_op(
        &ep,
        &request.policy,
        &members,
        &mut target,
        &mut rng,
        1,
        &request.op,
    )
    .await;
    finish(&ep, &history, 1, request.op, call_ns, outcome, returned);
}

/// Records the end of an operation in the trace and the history.
fn finish(
    ep: &Endpoint<Wire>,
    history: &History,
    seq: u64,
    op: Op,
    call_ns: u64,
    outcome: Outcome,
    returned: bool,
) {
    ep.record(EventKind::ClientDone {
        client: ep.id(),
        seq,
        status: match outcome {
            Outcome::Ok(_) => "ok",
            Outcome::Failed => "failed",
            Outcome::Unknown => "unknown",
        }
        .into(),
    });
    history.push(HistoryOp {
        client: ep.id(),
        seq,
        op,
        call_ns,
        return_ns: returned.then(|| ep.now_ns()),
        outcome,
    });
}

/// Runs one operation to its end: success, certain failure, or unknown.
///
/// An error answer speaks only of the attempt it echoes: a late answer to an earlier
/// attempt (a `NotLeader`, say, duplicated or delayed by the network) says nothing of the
/// current one, which may still commit. An OK answer to any attempt is the operation's
/// result: every attempt carries the same session fields, so the store applies at most
/// one of them. A write ends `Failed` only when every attempt was refused by a member
/// that certainly did not propose it; requests are never duplicated by the network (see
/// [`crate::Payload::may_duplicate`]), so a refused attempt cannot take effect later.
async fn run_op(
    ep: &Endpoint<Wire>,
    w: &RetryPolicy,
    members: &[NodeId],
    target: &mut NodeId,
    rng: &mut ChaCha8Rng,
    seq: u64,
    op: &Op,
) -> (Outcome, bool) {
    let id = ep.id();
    let deadline = ep.now_ns() + w.op_timeout_ms * 1_000_000;
    // Whether some attempt may have been applied: then giving up leaves the fate unknown.
    let mut maybe_applied = false;
    let command = Command {
        client_id: id,
        seq,
        op: op.clone(),
    };
    for attempt in 1u32.. {
        ep.record(EventKind::ClientSend {
            client: id,
            seq,
            to: *target,
            op: op.name().into(),
            key: op.key().into(),
        });
        ep.send(
            *target,
            Wire::Request(ClientRequest {
                command: command.clone(),
                attempt,
            }),
        );
        let timeout = Duration::from_millis(w.request_timeout_ms);
        let answer = wait_for(ep, seq, attempt, timeout).await;
        let mut backoff_ms = 0;
        match answer {
            Some(Ok(result)) => return (Outcome::Ok(result), true),
            Some(Err(ClientError::NotLeader { leader })) => {
                *target = if leader != proto::NO_NODE && leader != *target {
                    leader
                } else {
                    backoff_ms = 20;
                    *members.choose(rng).expect("members")
                };
            }
            Some(Err(ClientError::Unavailable)) => backoff_ms = 20,
            Some(Err(ClientError::Unknown)) | None => {
                maybe_applied |= op.is_write();
                // The member may be gone or deposed: try another one.
                *target = *members.choose(rng).expect("members");
                backoff_ms = 10;
            }
        }
        if !w.retry || ep.now_ns() + backoff_ms * 1_000_000 >= deadline {
            break;
        }
        if backoff_ms > 0 {
            madsim::time::sleep(Duration::from_millis(backoff_ms)).await;
        }
    }
    if maybe_applied {
        (Outcome::Unknown, false)
    } else {
        (Outcome::Failed, true)
    }
}

/// Waits for the answer to attempt `attempt` of `seq`: an OK to any attempt of `seq`, or
/// an error that echoes this attempt. Anything else is a late answer and is ignored.
async fn wait_for(
    ep: &Endpoint<Wire>,
    seq: u64,
    attempt: u32,
    timeout: Duration,
) -> Option<Result<OpResult, ClientError>> {
    let mut alarm = crate::Alarm::after(timeout);
    loop {
        let recv = ep.recv();
        futures_util::pin_mut!(recv);
        match futures_util::future::select(recv, &mut alarm).await {
            futures_util::future::Either::Left(((_, Wire::Response(r)), _))
                if answers(&r, seq, attempt) =>
            {
                return Some(r.result)
            }
            futures_util::future::Either::Left(_) => continue,
            futures_util::future::Either::Right(_) => return None,
        }
    }
}

/// Whether `r` answers attempt `attempt` of request `seq`.
fn answers(r: &ClientResponse, seq: u64, attempt: u32) -> bool {
    r.seq == seq && (r.result.is_ok() || r.attempt == attempt)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NetworkFaults, World};
    use disk::DiskFaults;
    use futures_util::future::BoxFuture;

    #[test]
    fn an_operation_still_in_flight_when_the_run_ends_is_in_the_history_as_unknown() {
        let h = History::default();
        let op = |seq, call_ns| HistoryOp {
            client: 1001,
            seq,
            op: Op::Get { key: "k".into() },
            call_ns,
            return_ns: None,
            outcome: Outcome::Unknown,
        };
        h.begin(op(1, 10));
        h.push(HistoryOp {
            return_ns: Some(20),
            outcome: Outcome::Failed,
            ..op(1, 10)
        });
        h.begin(op(2, 30));
        let taken = h.take();
        assert_eq!(taken.len(), 2, "{taken:?}");
        assert_eq!(
            taken[0].outcome,
            Outcome::Failed,
            "a finished one replaces its call"
        );
        assert_eq!((taken[1].seq, taken[1].return_ns), (2, None));
        assert_eq!(taken[1].outcome, Outcome::Unknown);
        assert!(h.take().is_empty(), "taken once");
    }

    /// How a fake member answers the attempts it receives.
    #[derive(Clone, Copy)]
    enum Script {
        /// `NotLeader { leader }` at once, and the same answer again `late_ms` later (a
        /// late duplicate of the answer).
        Redirect { leader: NodeId, late_ms: u64 },
        /// OK to every attempt, `after_ms` after it arrives.
        SlowOk { after_ms: u64 },
        /// `Unavailable` at once.
        Busy,
    }

    fn fake_member(script: Script) -> impl Fn(Endpoint<Wire>) -> BoxFuture<'static, ()> {
        move |ep: Endpoint<Wire>| {
            let ep = Arc::new(ep);
            Box::pin(async move {
                loop {
                    let (from, msg) = ep.recv().await;
                    let Wire::Request(req) = msg else { continue };
                    let answer = |result| {
                        Wire::Response(ClientResponse {
                            client_id: req.command.client_id,
                            seq: req.command.seq,
                            attempt: req.attempt,
                            result,
                        })
                    };
                    match script {
                        Script::Redirect { leader, late_ms } => {
                            let redirect = answer(Err(ClientError::NotLeader { leader }));
                            ep.send(from, redirect.clone());
                            let ep = ep.clone();
                            madsim::task::spawn(async move {
                                madsim::time::sleep(Duration::from_millis(late_ms)).await;
                                ep.send(from, redirect);
                            });
                        }
                        Script::SlowOk { after_ms } => {
                            let ok = answer(Ok(OpResult::Put { revision: 7 }));
                            let ep = ep.clone();
                            madsim::task::spawn(async move {
                                madsim::time::sleep(Duration::from_millis(after_ms)).await;
                                ep.send(from, ok);
                            });
                        }
                        Script::Busy => ep.send(from, answer(Err(ClientError::Unavailable))),
                    }
                }
            })
        }
    }

    /// Runs one put from client 1001, first sent to member 1, against two fake members.
    fn put_against(one: Script, two: Script, policy: RetryPolicy) -> (Outcome, bool) {
        crate::run(0, || async move {
            let faults = NetworkFaults {
                latency_min_us: 1_000,
                latency_max_us: 1_001,
                ..NetworkFaults::default()
            };
            let world: World<Wire> = World::new(0, faults, DiskFaults::default());
            world.add_node(1, fake_member(one));
            world.add_node(2, fake_member(two));
            let result = Arc::new(Mutex::new(None));
            let out = result.clone();
            world.add_node(1001, move |ep: Endpoint<Wire>| {
                let (out, policy) = (out.clone(), policy.clone());
                async move {
                    let mut rng = stream(0, "test-client", 1001);
                    let op = Op::Put {
                        key: "k".into(),
                        value: "v".into(),
                    };
                    let mut target = 1;
                    let r = run_op(&ep, &policy, &[1, 2], &mut target, &mut rng, 1, &op).await;
                    *out.lock().unwrap() = Some(r);
                }
            });
            madsim::time::sleep(Duration::from_secs(5)).await;
            world.shutdown();
            let r = result.lock().unwrap().take();
            r.expect("the client finished")
        })
    }

    fn policy(op_timeout_ms: u64) -> RetryPolicy {
        RetryPolicy {
            retry: true,
            request_timeout_ms: 300,
            op_timeout_ms,
        }
    }

    #[test]
    fn a_late_duplicate_redirect_is_not_taken_for_the_current_attempt() {
        // Attempt 1 goes to member 1, which redirects to 2 and repeats that redirect
        // 100 ms later; attempt 2 is at member 2, which answers OK after 150 ms. The
        // operation's deadline (120 ms) falls between: taking the late redirect for
        // attempt 2's answer would end the operation as failed while its OK is in flight.
        let (outcome, returned) = put_against(
            Script::Redirect {
                leader: 2,
                late_ms: 100,
            },
            Script::SlowOk { after_ms: 150 },
            policy(120),
        );
        assert_eq!(outcome, Outcome::Ok(OpResult::Put { revision: 7 }));
        assert!(returned);
    }

    #[test]
    fn a_late_ok_to_an_earlier_attempt_is_the_result() {
        // Member 1 answers OK after 400 ms, past the 300 ms attempt timeout; the retries
        // are refused as unavailable by member 2 (or wait again at member 1).
        let (outcome, _) = put_against(
            Script::SlowOk { after_ms: 400 },
            Script::Busy,
            policy(3_000),
        );
        assert_eq!(outcome, Outcome::Ok(OpResult::Put { revision: 7 }));
    }

    #[test]
    fn a_write_is_failed_only_when_every_attempt_was_refused() {
        let refused = put_against(Script::Busy, Script::Busy, policy(500));
        assert_eq!(refused, (Outcome::Failed, true));
        // A timed-out attempt may still commit: unknown, with no return time.
        let timed_out = put_against(
            Script::SlowOk { after_ms: 10_000 },
            Script::Busy,
            policy(500),
        );
        assert_eq!(timed_out, (Outcome::Unknown, false));
    }
}
