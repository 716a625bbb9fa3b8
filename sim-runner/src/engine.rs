//! Simulates one seed of a scenario: builds the cluster, plays the timeline (steps fire at
//! a time or when a condition holds) and records what happened. Judging is
//! the judge module's.

use crate::scenarios::Loaded;
use crate::timeline::{Mark, Timeline};
use proto::history::HistoryOp;
use proto::trace::{Event, EventKind};
use proto::NodeId;
use scenario::{Scenario, Step};
use sim::{Canaries, Cluster, MemberStatus, NetworkStats};
use std::collections::BTreeMap;
use std::time::Duration;

/// How a step went.
#[derive(Clone, Debug)]
pub struct StepOutcome {
    /// The step's label (or its action).
    pub label: String,
    /// When it fired, if it did.
    pub fired_ns: Option<u64>,
    /// Why it did not fire or failed.
    pub error: Option<String>,
}

/// Everything one simulated run produced, before any judging.
#[derive(Debug)]
pub struct Recording {
    /// The seed.
    pub seed: u64,
    /// The trace.
    pub events: Vec<Event>,
    /// The trace hash.
    pub trace_hash: u64,
    /// The client history.
    pub history: Vec<HistoryOp>,
    /// Each member's final status.
    pub members: BTreeMap<NodeId, MemberStatus>,
    /// Network counters.
    pub network: NetworkStats,
    /// Simulated time at the end, nanoseconds.
    pub end_ns: u64,
    /// The steps.
    pub steps: Vec<StepOutcome>,
    /// Marked requests by name.
    pub marks: BTreeMap<String, Mark>,
    /// Saved node bindings.
    pub bindings: BTreeMap<String, Vec<NodeId>>,
    /// When the last fault was healed (liveness is judged from there).
    pub healed_ns: Option<u64>,
    /// Members whose process was down at the end.
    pub down_at_end: Vec<NodeId>,
    /// The store of each member up at the end, at the applied index it was computed for.
    pub finals: Vec<check::FinalState>,
    /// The cluster as it ran (a chaos seed draws its knobs).
    pub config: sim::ClusterConfig,
    /// The network's random faults at the end (liveness is judged over them).
    pub final_network: sim::NetworkFaults,
    /// Trace validation's findings, judged online over every event as it was recorded
    /// (the step events are kept in `events` only when a trace file asks for them);
    /// `None` if no validator observed the run.
    pub validated: Option<Vec<check::Violation>>,
}

/// What a seed plays: the scenario's cluster, steps and workload, or, for a `[chaos]`
/// scenario, the plan drawn from the seed (cluster knobs, fault schedule, operation mix).
fn plan(scenario: &Scenario, seed: u64) -> (sim::ClusterConfig, Vec<Step>, Option<sim::Workload>) {
    let mut workload = scenario.resolved_workload();
    match &scenario.chaos {
        Some(chaos) => {
            let plan = crate::chaos::plan(seed, chaos, &scenario.cluster, &scenario.network);
            // Swarm testing draws the operation mix too.
            if let Some(w) = workload.as_mut() {
                w.mix = plan.mix.clone();
            }
            (plan.config.clone(), plan.steps(), workload)
        }
        None => (scenario.cluster.clone(), scenario.steps.clone(), workload),
    }
}

/// Trace validation run online, as the trace records each event.
struct Validating(check::protocol::Online);

impl sim::trace::Observer for Validating {
    fn observe(&mut self, event: &Event) {
        self.0.observe(event);
    }

    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any> {
        self
    }
}

/// The findings of the online validator a run's trace was observed by, if any.
fn validated(observer: Option<Box<dyn sim::trace::Observer>>) -> Option<Vec<check::Violation>> {
    observer
        .and_then(|o| o.into_any().downcast::<Validating>().ok())
        .map(|v| v.0.finish())
}

/// Simulates one seed of the scenario.
pub fn simulate(loaded: &Loaded, seed: u64, canaries: Canaries) -> Recording {
    let scenario = &loaded.scenario;
    sim::run(seed, || async move {
        let (config, steps, workload) = plan(scenario, seed);
        let network = scenario.network.clone();
        let observer = Box::new(Validating(check::protocol::Online::new()));
        let disk = scenario.disk.clone();
        let mut cluster = Cluster::start(seed, config, network, disk, canaries, Some(observer));
        if let Some(w) = workload.as_ref().filter(|w| w.clients > 0) {
            cluster.start_clients(w);
        }
        let mut t = Timeline::new(cluster, scenario.disk.clone());
        let end_ns = scenario.duration_ms * 1_000_000;
        let (outcomes, last_fired) = play(&mut t, &steps, end_ns).await;
        let healed_ns = match &scenario.chaos {
            Some(chaos) => Some(chaos.faults_until_ms * 1_000_000),
            None => last_fired,
        };
        // A few ticks before the end, members start publishing their metrics every tick, so
        // the report's figures are at most a tick old.
        let tick_ns = t.cluster.config.tick_ms * 1_000_000;
        sleep_until(&t.cluster, end_ns.saturating_sub(3 * tick_ns)).await;
        t.cluster.publish_metrics_every_tick();
        sleep_until(&t.cluster, end_ns).await;
        finish(t, seed, outcomes, healed_ns)
    })
}

/// Plays the steps in order; a step that fails or whose condition never holds ends the
/// timeline. Returns each step's outcome and when the last successful step fired.
async fn play(t: &mut Timeline, steps: &[Step], end_ns: u64) -> (Vec<StepOutcome>, Option<u64>) {
    let mut outcomes = Vec::new();
    let mut last_fired_ns = 0;
    let mut healed = None;
    for step in steps {
        let label = step.describe();
        let start_ns = match (step.at_ms, step.after_ms) {
            (Some(at), _) => at * 1_000_000,
            (None, after) => last_fired_ns + after.unwrap_or(0) * 1_000_000,
        };
        sleep_until(&t.cluster, start_ns).await;
        if let Some(error) = wait_for(t, step, end_ns).await {
            outcomes.push(StepOutcome {
                label,
                fired_ns: None,
                error: Some(error),
            });
            break;
        }
        let fired_at = now(&t.cluster);
        t.cluster.world.record(EventKind::Step {
            label: label.clone(),
        });
        let mut result = t.act(step);
        if let (Err(why), true) = (&result, step.optional) {
            t.cluster.world.record(EventKind::Note {
                node: 0,
                text: format!("optional step skipped: {why}"),
            });
            result = Ok(());
        }
        last_fired_ns = fired_at;
        let failed = result.is_err();
        outcomes.push(StepOutcome {
            label,
            fired_ns: Some(fired_at),
            error: result.err(),
        });
        if failed {
            break;
        }
        healed = Some(fired_at);
    }
    (outcomes, healed)
}

/// Waits until the step's condition holds (checked every simulated millisecond); `Some`
/// says why it never did.
async fn wait_for(t: &mut Timeline, step: &Step, end_ns: u64) -> Option<String> {
    let cond = step.when.as_ref()?;
    let waiting_since = now(&t.cluster);
    let deadline = step
        .timeout_ms
        .map_or(end_ns, |ms| (waiting_since + ms * 1_000_000).min(end_ns));
    loop {
        match t.holds(cond, waiting_since) {
            Ok(true) => return None,
            Ok(false) => {}
            Err(e) => return Some(e),
        }
        if now(&t.cluster) >= deadline {
            return Some("its condition never held".into());
        }
        madsim::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Shuts the cluster down and gathers the recording.
fn finish(t: Timeline, seed: u64, steps: Vec<StepOutcome>, healed_ns: Option<u64>) -> Recording {
    let members = t.cluster.members();
    let (up, down_at_end): (Vec<NodeId>, Vec<NodeId>) =
        members.into_iter().partition(|m| t.cluster.world.is_up(*m));
    let finals: Vec<check::FinalState> = up
        .into_iter()
        .map(|m| {
            let s = t.cluster.status(m);
            // The digest is recomputed on ticks, so pair it with the applied index it
            // was computed at, not the latest one (a write applied after the member's
            // last tick would otherwise look like a diverged store).
            check::FinalState {
                node: m,
                applied: s.digest_applied.unwrap_or(0),
                digest: s.store_digest,
            }
        })
        .collect();
    let (bindings, marks) = (t.bindings, t.marks);
    let (config, final_network) = (t.cluster.config.clone(), t.cluster.world.network());
    let run = t.cluster.shutdown();
    Recording {
        seed,
        trace_hash: run.record.trace_hash,
        end_ns: run.record.end_ns,
        network: run.record.network,
        events: run.record.events,
        history: run.history,
        members: run.members,
        steps,
        marks,
        bindings,
        healed_ns,
        down_at_end,
        finals,
        config,
        final_network,
        validated: validated(run.record.observer),
    }
}

fn now(cluster: &Cluster) -> u64 {
    cluster.world.now_ns()
}

async fn sleep_until(cluster: &Cluster, at_ns: u64) {
    let now = now(cluster);
    if at_ns > now {
        // An alarm, not a madsim sleep: a step due in under 1 ms must not slip to 1 ms.
        sim::Alarm::after(Duration::from_nanos(at_ns - now)).await;
    }
}
