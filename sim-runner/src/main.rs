//! `sim-runner`: replay a scenario for one seed or sweep many, check, and report.
//!
//! Exit codes: 0 when every check holds, 1 when a check failed, 2 for bad input.

use clap::Parser;
use sim_runner::cli;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = match cli::Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            // clap prints help and version to stdout with exit 0, errors with exit 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match cli::execute(args) {
        Ok(status) => ExitCode::from(status.code()),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
