//! The external programs the project spawns are all listed in `scripts/programs.txt`, the list
//! `scripts/ensure-deps.sh` installs from and `scripts/check-programs.sh` checks with `command -v`.
//!
//! Why: a fresh Debian machine once failed nine window tests because the harness spawned
//! `secret-tool` and nothing installed it; the developer's machine happened to have it. This test
//! reads the sources instead of the machine: every `Command::new("…")` literal in Rust, every
//! interpreter a `$BROWSER` command string starts with, every command word of the Makefile's
//! recipes and of the scripts. A new program that is not listed fails here, naming the file.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("invariant: tests/ is inside the workspace")
        .to_path_buf()
}

fn listed() -> BTreeSet<String> {
    let text = std::fs::read_to_string(root().join("scripts/programs.txt"))
        .expect("scripts/programs.txt is readable");
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if p.is_dir() {
            if name != "target" && name != "gen" && !name.starts_with('.') {
                rust_files(&p, out);
            }
        } else if name.ends_with(".rs") {
            out.push(p);
        }
    }
}

/// Pure: the programs a Rust source spawns by name: `Command::new("x")` and command strings that
/// start with an interpreter (`"python3 {}"`, `"sh -c …"`).
fn spawned_in_rust(src: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = src;
    while let Some(i) = rest.find("Command::new(\"") {
        rest = &rest[i + "Command::new(\"".len()..];
        if let Some(end) = rest.find('"') {
            found.push(rest[..end].to_string());
        }
    }
    for interp in ["python3", "sh", "bash", "perl"] {
        if src.contains(&format!("\"{interp} ")) {
            found.push(interp.to_string());
        }
    }
    found
}

/// Shell words that are not programs to install.
const SHELL: &[&str] = &[
    "if", "then", "else", "elif", "fi", "for", "while", "do", "done", "case", "esac", "in",
    "return", "exit", "set", "local", "export", "eval", "trap", "cd", "echo", "printf", "read",
    "shift", "continue", "break", "command", "true", "false", "test", "[", "[[", "]", "]]", "{",
    "}", "(", ")", "exec", "wait", "source", ".", "unset", "pwd", "declare", "readonly", "ln",
    "rm", "mv", "cp", "mkdir", "ls", "cat", "grep", "sed", "head", "tail", "cut", "du", "id",
    "env", "sort", "tr", "date", "dirname", "basename", "chmod", "touch", "sudo",
];

/// The project's own binaries, built by cargo.
const OURS: &[&str] = &["teams-scheduler", "tsched", "tsched-sandbox"];

/// Pure: the first word of each simple command in a shell script or a Makefile recipe, skipping
/// assignments, variables, functions the script defines, and shell built-ins / coreutils that
/// every Debian has.
fn spawned_in_shell(src: &str, makefile: bool) -> Vec<String> {
    let mut defined: BTreeSet<String> = BTreeSet::new();
    for line in src.lines() {
        let l = line.trim();
        if let Some(name) = l.strip_suffix("() {").or_else(|| l.strip_suffix("(){")) {
            defined.insert(name.trim().to_string());
        }
        if let Some((name, _)) = l.split_once("() {") {
            defined.insert(name.trim().to_string());
        }
    }
    let mut found = Vec::new();
    for line in src.lines() {
        if makefile && !line.starts_with('\t') && !line.contains(" = ") {
            continue;
        }
        let l = line.trim();
        if l.starts_with('#') {
            continue;
        }
        let l = if makefile {
            l.split_once(" = ").map_or(l, |(_, v)| v)
        } else {
            l
        };
        for part in l.split(['|', ';', '&']) {
            let mut words = part.split_whitespace().skip_while(|w| {
                w.contains('=')
                    || *w == "!"
                    || *w == "if"
                    || *w == "then"
                    || *w == "else"
                    || *w == "do"
                    || *w == "elif"
                    || *w == "while"
                    || *w == "-a"
                    || w.starts_with('-')
                    || *w == "\"-screen"
            });
            let Some(first) = words.next() else { continue };
            let first = first.trim_start_matches(['(', '{']);
            let ok = first
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic())
                && first
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                && !first.ends_with(".sh")
                // Package names continuing an array over lines, and our own binaries.
                && !first.ends_with("-dev")
                && !OURS.contains(&first);
            if ok && !SHELL.contains(&first) && !defined.contains(first) {
                found.push(first.to_string());
            }
        }
    }
    found
}

#[test]
fn every_spawned_program_is_listed_for_ensure_deps() {
    let listed = listed();
    let mut files = Vec::new();
    for dir in ["crates", "src-tauri", "tests", "benches"] {
        rust_files(&root().join(dir), &mut files);
    }
    assert!(
        files.len() > 50,
        "the scan must see the workspace's Rust sources (found {})",
        files.len()
    );
    let mut unlisted = Vec::new();
    for f in &files {
        if f.ends_with("tests/programs_list.rs") {
            continue; // this file's own examples
        }
        let src = std::fs::read_to_string(f).expect("source is readable");
        for p in spawned_in_rust(&src) {
            if !listed.contains(&p) {
                unlisted.push(format!("{p} (spawned in {})", f.display()));
            }
        }
    }
    let mut shell_files: Vec<(PathBuf, bool)> = vec![
        (root().join("Makefile"), true),
        (root().join(".ci/run"), false),
    ];
    for e in std::fs::read_dir(root().join("scripts"))
        .expect("scripts/ is readable")
        .flatten()
    {
        if e.file_name().to_string_lossy().ends_with(".sh") {
            shell_files.push((e.path(), false));
        }
    }
    for (f, makefile) in &shell_files {
        let src = std::fs::read_to_string(f).expect("script is readable");
        for p in spawned_in_shell(&src, *makefile) {
            if !listed.contains(&p) {
                unlisted.push(format!("{p} (run by {})", f.display()));
            }
        }
    }
    unlisted.sort();
    unlisted.dedup();
    assert!(
        unlisted.is_empty(),
        "programs spawned but missing from scripts/programs.txt (so ensure-deps.sh would not \
         install them on a fresh machine):\n  {}",
        unlisted.join("\n  ")
    );
}

#[test]
fn the_scan_finds_a_spawned_program() {
    assert_eq!(
        spawned_in_rust("let _ = Command::new(\"secret-tool\").arg(\"x\");"),
        vec!["secret-tool".to_string()],
        "a Command::new literal is a spawned program"
    );
    assert_eq!(
        spawned_in_rust("format!(\"python3 {}\", p)"),
        vec!["python3".to_string()],
        "a $BROWSER command string names its interpreter"
    );
    assert_eq!(
        spawned_in_shell("\tX=1 xvfb-run -a foo | grep y\n", true),
        vec!["xvfb-run".to_string()],
        "a Makefile recipe's command word, past assignments and built-ins"
    );
    assert_eq!(
        spawned_in_shell(
            "helper() {\n  :\n}\nhelper\nsecret-tool lookup a b\n",
            false
        ),
        vec!["secret-tool".to_string()],
        "a script's own functions are not programs"
    );
}
