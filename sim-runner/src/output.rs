//! Files a run writes: its trace (JSON lines or Chrome trace events), its history, and a
//! sweep's report directory; and the provenance every one of them carries.

use crate::artifacts::{self, SweepReport};
use crate::error::InputError;
use crate::judge::Outcome;
use std::io::Write;
use std::path::Path;

/// Creates (truncates) an output file.
pub fn create(path: &Path) -> Result<std::fs::File, InputError> {
    std::fs::File::create(path).map_err(InputError::write(path))
}

fn ran<'a>(outcome: &'a Outcome, what: &str) -> Result<&'a crate::judge::RunResult, InputError> {
    match outcome {
        Outcome::Ran(run) => Ok(run),
        Outcome::Panicked { .. } => Err(InputError::Other(format!(
            "the run panicked: no {what} to write"
        ))),
    }
}

/// Writes the run's trace: Chrome trace events for a `.json` path, else a header line
/// (`about`, with the trace hash) and one event per line.
pub fn write_trace(
    path: &Path,
    file: std::fs::File,
    outcome: &Outcome,
    mut about: serde_json::Value,
) -> Result<(), InputError> {
    let run = ran(outcome, "trace")?;
    about["trace_hash"] = format!("{:016x}", run.trace_hash).into();
    let mut file = std::io::BufWriter::new(file);
    let written = if path.extension().is_some_and(|e| e == "json") {
        let trace = crate::perfetto::chrome_trace(run, about);
        serde_json::to_writer(&mut file, &trace).map_err(std::io::Error::from)
    } else {
        serde_json::to_writer(&mut file, &about)
            .map_err(std::io::Error::from)
            .and_then(|()| file.write_all(b"\n"))
            .and_then(|()| sim::trace::write_json_lines(&run.events, &mut file))
    };
    written
        .and_then(|()| file.flush())
        .map_err(InputError::write(path))
}

/// Writes the run's client history in the check-history format.
pub fn write_history(
    path: &Path,
    file: std::fs::File,
    outcome: &Outcome,
) -> Result<(), InputError> {
    let run = ran(outcome, "history")?;
    let applied = check::applied_order(&run.events);
    let start = check::store_model::START_REVISION;
    let text = check::history_file::write_with(&run.history, true, start, Some(&applied));
    { file }
        .write_all(text.as_bytes())
        .map_err(InputError::write(path))
}

fn write_file(path: &Path, text: &str) -> Result<(), InputError> {
    std::fs::write(path, text).map_err(InputError::write(path))
}

/// Writes report.json, summary.md and the timelines of up to 10 kept runs into `dir`.
pub fn write_report(dir: &Path, sweep: &SweepReport, kept: &[&Outcome]) -> Result<(), InputError> {
    std::fs::create_dir_all(dir).map_err(InputError::write(dir))?;
    let json = serde_json::to_string_pretty(sweep).expect("a report serializes");
    write_file(&dir.join("report.json"), &json)?;
    let mut timelines = Vec::new();
    for outcome in kept.iter().take(10) {
        if let Outcome::Ran(run) = outcome {
            let name = format!("timeline-seed-{}.svg", run.seed);
            write_file(&dir.join(&name), &crate::svg::timeline_svg(run))?;
            timelines.push((run.seed, name));
        }
    }
    write_file(
        &dir.join("summary.md"),
        &artifacts::markdown(sweep, &timelines),
    )?;
    println!("report written to {}", dir.display());
    Ok(())
}
