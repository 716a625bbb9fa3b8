//! An SVG timeline of one run: a lane per member showing its role and term over simulated
//! time, crashes, pauses, partitions, the commit index, and the first violation in red.

use crate::judge::RunResult;
use proto::trace::{EventKind, Role};
use proto::NodeId;
use std::fmt::Write as _;

const LEADER: &str = "#6cc070";
const FOLLOWER: &str = "#dddddd";

/// Where things go on the picture.
struct Canvas {
    members: Vec<NodeId>,
    end_ns: u64,
    left: f64,
    width: f64,
    lane: f64,
    top: f64,
}

impl Canvas {
    fn x(&self, t: u64) -> f64 {
        self.left + self.width * (t as f64 / self.end_ns.max(1) as f64)
    }

    fn lane_y(&self, n: NodeId) -> f64 {
        let at = self.members.iter().position(|m| *m == n).unwrap_or(0);
        self.top + self.lane * at as f64
    }

    /// Below the last lane.
    fn bottom(&self) -> f64 {
        self.top + self.lane * self.members.len() as f64
    }
}

/// The run as an SVG picture.
pub fn timeline_svg(run: &RunResult) -> String {
    let c = Canvas {
        members: run.members.keys().copied().collect(),
        end_ns: run.end_ns,
        left: 70.0,
        width: 1100.0,
        lane: 46.0,
        top: 48.0,
    };
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" font-family="monospace" font-size="11">"#,
        c.left + c.width + 20.0,
        c.bottom() + 50.0
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="16" font-size="13">seed {} · trace {:016x}</text><text x="{}" y="32">grey follower · yellow candidate · green leader (term) · black down · purple paused · blue band partition · line commit index · red first violation</text>"#,
        c.left, run.seed, run.trace_hash, c.left
    );
    bands(&mut svg, &c, run);
    let max_commit = run
        .members
        .values()
        .map(|s| s.committed)
        .max()
        .unwrap_or(1)
        .max(1);
    for &m in &c.members {
        member_lane(&mut svg, &c, run, m, max_commit as f64);
    }
    first_violation(&mut svg, &c, run);
    axis(&mut svg, &c);
    svg.push_str("</svg>\n");
    svg
}

/// Partitions and cuts as bands across the lanes.
fn bands(svg: &mut String, c: &Canvas, run: &RunResult) {
    let mut open: Option<(u64, String)> = None;
    let mut bands = Vec::new();
    for e in &run.events {
        match &e.kind {
            EventKind::Partition { groups } => {
                if let Some((t, label)) = open.take() {
                    bands.push((t, e.time_ns, label));
                }
                open = Some((e.time_ns, format!("{groups:?}")));
            }
            EventKind::CutLink { from, to } if open.is_none() => {
                open = Some((e.time_ns, format!("cut {from}->{to}")))
            }
            EventKind::Heal => {
                if let Some((t, label)) = open.take() {
                    bands.push((t, e.time_ns, label));
                }
            }
            _ => {}
        }
    }
    if let Some((t, label)) = open {
        bands.push((t, run.end_ns, label));
    }
    for (a, b, label) in bands {
        let _ = writeln!(
            svg,
            r##"<rect x="{:.1}" y="{}" width="{:.1}" height="{}" fill="#cfe3ff" opacity="0.6"><title>{label}</title></rect>"##,
            c.x(a),
            c.top - 6.0,
            (c.x(b) - c.x(a)).max(1.0),
            c.lane * c.members.len() as f64
        );
    }
}

/// Member `m`'s (start, end, colour, term) segments and its (time, commit index) points.
type Segments = Vec<(u64, u64, &'static str, u64)>;

fn segments(run: &RunResult, m: NodeId) -> (Segments, Vec<(u64, u64)>) {
    let mut state: (u64, &str, u64) = (0, FOLLOWER, 0);
    let mut segments = Vec::new();
    let mut commit_points = vec![(0u64, 0u64)];
    for e in &run.events {
        let next = match &e.kind {
            EventKind::Role { node, role, term } if *node == m => Some(match role {
                Role::Leader => (LEADER, *term),
                Role::Candidate | Role::PreCandidate => ("#f2d15c", *term),
                Role::Follower => (FOLLOWER, *term),
            }),
            EventKind::Crash { node } if *node == m => Some(("#222222", state.2)),
            EventKind::Restart { node } if *node == m => Some((FOLLOWER, state.2)),
            EventKind::Pause { node } if *node == m => Some(("#b39ddb", state.2)),
            EventKind::Resume { node } if *node == m => Some((FOLLOWER, state.2)),
            EventKind::Committed { node, index, .. } if *node == m => {
                commit_points.push((e.time_ns, *index));
                None
            }
            _ => None,
        };
        if let Some((color, term)) = next {
            segments.push((state.0, e.time_ns, state.1, state.2));
            state = (e.time_ns, color, term);
        }
    }
    segments.push((state.0, run.end_ns, state.1, state.2));
    (segments, commit_points)
}

/// Member `m`'s lane: role segments (leaders labelled with their term) and commit index.
fn member_lane(svg: &mut String, c: &Canvas, run: &RunResult, m: NodeId, max_commit: f64) {
    let y = c.lane_y(m);
    let _ = writeln!(svg, r#"<text x="8" y="{:.1}">member {m}</text>"#, y + 18.0);
    let (segments, commit_points) = segments(run, m);
    for (a, b, color, term) in segments {
        if b <= a {
            continue;
        }
        let _ = writeln!(
            svg,
            r#"<rect x="{:.1}" y="{y:.1}" width="{:.2}" height="26" fill="{color}"><title>member {m} term {term}</title></rect>"#,
            c.x(a),
            (c.x(b) - c.x(a)).max(0.5)
        );
        if color == LEADER && c.x(b) - c.x(a) > 18.0 {
            let _ = writeln!(
                svg,
                r#"<text x="{:.1}" y="{:.1}">t{term}</text>"#,
                c.x(a) + 2.0,
                y + 17.0
            );
        }
    }
    let points: Vec<String> = commit_points
        .iter()
        .map(|(t, i)| {
            format!(
                "{:.1},{:.1}",
                c.x(*t),
                y + 34.0 - 8.0 * (*i as f64 / max_commit)
            )
        })
        .collect();
    let _ = writeln!(
        svg,
        r##"<polyline points="{}" fill="none" stroke="#3355aa" stroke-width="1"/>"##,
        points.join(" ")
    );
}

fn first_violation(svg: &mut String, c: &Canvas, run: &RunResult) {
    if let Some(v) = run.first_violation() {
        let vx = c.x(v.time_ns.min(run.end_ns));
        let _ = writeln!(
            svg,
            r##"<line x1="{vx:.1}" y1="{}" x2="{vx:.1}" y2="{:.1}" stroke="red" stroke-width="2"/><text x="{:.1}" y="{:.1}" fill="red">{}</text>"##,
            c.top - 8.0,
            c.bottom(),
            (vx + 4.0).min(c.left + c.width - 300.0),
            c.bottom() + 14.0,
            xml_escape(&v.to_string().chars().take(140).collect::<String>())
        );
    }
}

fn axis(svg: &mut String, c: &Canvas) {
    let axis_y = c.bottom() + 32.0;
    let secs = (c.end_ns.max(1) as f64 / 1e9).ceil() as u64;
    let stride = (secs / 10).max(1);
    for s in (0..=secs).step_by(stride as usize) {
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{axis_y:.1}">{s}s</text>"#,
            c.x(s * 1_000_000_000)
        );
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
