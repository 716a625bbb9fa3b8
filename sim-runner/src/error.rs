//! Bad input, reported with exit code 2.

use std::path::Path;

/// Bad input: reported with exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The scenario name is not known.
    #[error("unknown scenario {0:?} (run with --list to see the scenarios, or give a path to a .toml file)")]
    UnknownScenario(String),
    /// A scenario file is invalid.
    #[error("{0}")]
    Scenario(scenario::ScenarioError),
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Could not write an output file.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A history file is invalid.
    #[error("{path}:{0}", path = .1)]
    History(check::history_file::HistoryFileError, String),
    /// Other bad input.
    #[error("{0}")]
    Other(String),
}

impl InputError {
    /// `path` could not be read.
    pub fn read(path: impl AsRef<Path>) -> impl FnOnce(std::io::Error) -> InputError {
        let path = path.as_ref().display().to_string();
        move |source| InputError::Read { path, source }
    }

    /// `path` could not be written.
    pub fn write(path: impl AsRef<Path>) -> impl FnOnce(std::io::Error) -> InputError {
        let path = path.as_ref().display().to_string();
        move |source| InputError::Write { path, source }
    }
}

impl From<scenario::ScenarioError> for InputError {
    fn from(e: scenario::ScenarioError) -> Self {
        InputError::Scenario(e)
    }
}
