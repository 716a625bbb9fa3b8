//! Every file in `tests/bad-scenarios/` is refused before any run, with the line and the
//! message its first line announces (`# expect LINE: words of the message`).

use sim_runner::scenarios;
use std::path::Path;

#[test]
fn every_bad_scenario_is_refused_with_its_line_and_reason() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad-scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 14, "{} bad files", files.len());
    let mut wrong = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let header = text.lines().next().unwrap();
        let (line, words) = header
            .strip_prefix("# expect ")
            .and_then(|h| h.split_once(": "))
            .unwrap_or_else(|| panic!("{}: no '# expect LINE: words' header", path.display()));
        let name = path.display().to_string();
        let err = match scenarios::parse(&text, &name) {
            Ok(_) => {
                wrong.push(format!("{name} was accepted"));
                continue;
            }
            Err(e) => e.to_string(),
        };
        let want = format!("{name}:{line}: ");
        if !err.starts_with(&want) || !err.contains(words) {
            wrong.push(format!(
                "{name}: got {err:?}, want line {line} and {words:?}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
