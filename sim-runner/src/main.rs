//! `sim-runner`: replay a scenario for one seed or sweep many, check, and report.
//!
//! Exit codes: 0 when every check holds, 1 when a check failed, 2 for bad input, 3 when
//! nothing failed but a check was undecided.

use clap::Parser;
use sim_runner::cli;
use std::process::ExitCode;

fn main() -> ExitCode {
    // Piped into `head`, stdout closes early: end quietly rather than panic on the next
    // line printed (Rust ignores SIGPIPE and print! panics instead).
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let text = info
            .payload()
            .downcast_ref::<String>()
            .map_or("", String::as_str);
        if text.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info)
    }));
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
