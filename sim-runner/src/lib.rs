//! The testbed's runner as a library: load a scenario, run seeds, judge, report. The
//! `sim-runner` binary is a thin command line over it; tests drive it directly.

pub mod args;
pub mod artifacts;
pub mod bench;
mod bench_checker;
pub mod canary;
pub mod canary_bench;
pub mod chaos;
pub mod cli;
pub mod engine;
pub mod error;
pub mod expect;
pub mod judge;
mod measure;
pub mod output;
pub mod perfetto;
pub mod reference;
pub mod report;
pub mod scenarios;
pub mod shrink;
pub mod speed_guard;
pub mod story;
pub mod svg;
pub mod sweep;
pub mod timeline;
mod timeline_faults;
pub mod tools;
