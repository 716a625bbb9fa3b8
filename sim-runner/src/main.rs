//! `sim-runner`: replay a scenario for one seed or sweep many, check, and report.
//!
//! Exit codes: 0 when every check holds, 1 when a check failed, 2 for bad input.

mod cli;
mod scenarios;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::Args::parse();
    match cli::execute(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
