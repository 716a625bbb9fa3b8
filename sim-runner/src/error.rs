//! Bad input, reported with exit code 2.

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
    #[error("cannot read {path}: {message}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// Could not write an output file.
    #[error("cannot write {path}: {message}")]
    Write {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// A history file is invalid.
    #[error("{path}:{0}", path = .1)]
    History(check::history_file::HistoryFileError, String),
    /// Other bad input.
    #[error("{0}")]
    Other(String),
}

impl From<scenario::ScenarioError> for InputError {
    fn from(e: scenario::ScenarioError) -> Self {
        InputError::Scenario(e)
    }
}
