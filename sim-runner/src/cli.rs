//! The top of the program: parse the command line, dispatch, say how it ended. Running a
//! scenario is `sweep`'s; the file tools are `tools`'; the benchmarks are `bench`'s.

pub use crate::args::{shard_len, shard_seeds, Args, Command, MAX_SEEDS};
pub use crate::tools::Status;

use crate::error::InputError;
use std::path::PathBuf;

/// Runs the command and says how it ended.
pub fn execute(args: Args) -> Result<Status, InputError> {
    match &args.command {
        Some(Command::CheckHistory {
            file,
            budget,
            complete,
        }) => crate::tools::check_history(file, *budget, *complete),
        Some(Command::Merge { files, report }) => crate::tools::merge(files, report.as_ref()),
        Some(Command::Schema) => {
            print!("{}", crate::reference::scenario_reference());
            Ok(Status::Passed)
        }
        Some(Command::CiSweeps) => {
            print!("{}", crate::scenarios::ci_sweeps());
            Ok(Status::Passed)
        }
        Some(Command::Bench {
            runs,
            sweep_seeds,
            memory_seeds,
            quick,
            only,
            output,
            guard,
            plant_slowdown,
        }) => {
            sim::plant_slowdown(*plant_slowdown);
            if let Some(max) = guard {
                return crate::speed_guard::run(*runs, *max);
            }
            let options = crate::bench::BenchOptions {
                runs: (*runs).max(1),
                sweep_seeds: *sweep_seeds,
                memory_seeds: *memory_seeds,
                quick: *quick,
                only: only.clone(),
            };
            let output = match (output, only.is_empty()) {
                (Some(path), _) => Some(path.clone()),
                (None, true) => Some(PathBuf::from("reports/BENCHMARKS.md")),
                (None, false) => None,
            };
            crate::bench::run(&options, output.as_deref())?;
            Ok(Status::Passed)
        }
        None if args.list => {
            crate::report::list();
            Ok(Status::Passed)
        }
        None => crate::sweep::run_scenario(&args),
    }
}
