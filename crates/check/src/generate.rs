//! Generated histories that are linearizable by construction, for tests and benchmarks:
//! clients call, the operation takes effect at a random point inside its interval against
//! a true model, and returns later. Some operations time out: they take effect or not, and
//! never return.

use proto::history::{HistoryOp, Outcome};
use proto::kv::{Compare, Op, OpResult};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

/// An operation as planned: when it takes effect, its interval, who calls it, whether it
/// times out and whether it takes effect.
struct Planned {
    effect: u64,
    call: u64,
    ret: u64,
    client: u64,
    seq: u64,
    op: Op,
    timed_out: bool,
    takes_effect: bool,
}

/// A valid history of `ops` operations by `clients` clients over `keys` keys, where a
/// request times out with probability `timeout_ppm` (parts per million).
pub fn generate(
    seed: u64,
    ops: usize,
    clients: u64,
    keys: u64,
    timeout_ppm: u32,
) -> Vec<HistoryOp> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut planned = plan(&mut rng, ops, clients, keys, timeout_ppm);
    planned.sort_by_key(|p| p.effect);
    // key -> (value, modification revision), and the global revision.
    let mut store: BTreeMap<String, (String, u64)> = BTreeMap::new();
    let mut revision = 0u64;
    let mut out = Vec::new();
    for mut p in planned {
        // A cas compares with the current value (or its revision) so that it often
        // succeeds.
        if let Op::Cas { key, compare, .. } = &mut p.op {
            let current = store.get(key.as_str());
            match rng.gen_range(0..10) {
                0..=3 => *compare = Compare::Value(current.map(|(v, _)| v.clone())),
                4..=6 => *compare = Compare::ModRevision(current.map_or(0, |(_, r)| *r)),
                7 => *compare = Compare::ModRevision(rng.gen_range(0..=revision)),
                _ => {}
            }
        }
        let result = p
            .takes_effect
            .then(|| apply(&mut store, &mut revision, &p.op));
        let (outcome, return_ns) = match (p.timed_out, result) {
            (false, Some(r)) => (Outcome::Ok(r), Some(p.ret)),
            (true, _) => (Outcome::Unknown, None),
            (false, None) => unreachable!("completed operations take effect"),
        };
        out.push(HistoryOp {
            client: p.client,
            seq: p.seq,
            op: p.op,
            call_ns: p.call,
            return_ns,
            outcome,
        });
    }
    out.sort_by_key(|o| o.call_ns);
    out
}

/// Draws each operation: its client (round robin, one in flight each), interval, key,
/// kind, and whether it times out and takes effect.
fn plan(
    rng: &mut ChaCha8Rng,
    ops: usize,
    clients: u64,
    keys: u64,
    timeout_ppm: u32,
) -> Vec<Planned> {
    let mut free_at: Vec<u64> = vec![0; clients as usize];
    let mut planned = Vec::new();
    for n in 0..ops {
        let c = n as u64 % clients;
        let call = free_at[c as usize] + rng.gen_range(0..50);
        let effect = call + rng.gen_range(1..100);
        let ret = effect + rng.gen_range(1..100);
        free_at[c as usize] = ret;
        let key = format!("k{}", rng.gen_range(0..keys));
        let value = format!("c{c}-{n}");
        let op = match rng.gen_range(0..10) {
            0..=3 => Op::Put { key, value },
            4..=7 => Op::Get { key },
            8 => Op::Delete { key },
            _ => Op::Cas {
                key,
                compare: Compare::Value(None),
                value,
            },
        };
        let timed_out = rng.gen_range(0..1_000_000) < timeout_ppm;
        let takes_effect = !timed_out || rng.gen_bool(0.5);
        planned.push(Planned {
            effect,
            call,
            ret,
            client: c + 1,
            seq: n as u64 + 1,
            op,
            timed_out,
            takes_effect,
        });
    }
    planned
}

/// Applies `op` as etcd does: puts, successful compare-and-swaps and deletes of present
/// keys raise the revision by one.
fn apply(store: &mut BTreeMap<String, (String, u64)>, revision: &mut u64, op: &Op) -> OpResult {
    let mut write = |store: &mut BTreeMap<String, (String, u64)>, key: &str, value: &str| {
        *revision += 1;
        store.insert(key.to_string(), (value.to_string(), *revision));
    };
    match op {
        Op::Put { key, value } => {
            write(store, key, value);
            OpResult::Put {
                revision: *revision,
            }
        }
        Op::Get { key } => OpResult::Get {
            value: store.get(key).map(|(v, _)| v.clone()),
            mod_revision: store.get(key).map_or(0, |(_, r)| *r),
        },
        Op::Delete { key } => {
            let deleted = store.remove(key).is_some();
            *revision += u64::from(deleted);
            OpResult::Delete {
                deleted,
                revision: *revision,
            }
        }
        Op::Cas {
            key,
            compare,
            value,
        } => {
            let current = store.get(key);
            let ok = match compare {
                Compare::Value(expected) => current.map(|(v, _)| v) == expected.as_ref(),
                Compare::ModRevision(r) => current.map_or(0, |(_, m)| *m) == *r,
            };
            if ok {
                write(store, key, value);
            }
            OpResult::Cas {
                succeeded: ok,
                revision: *revision,
            }
        }
        other => unreachable!(
            "the generator makes single-key operations, not {}",
            other.name()
        ),
    }
}
