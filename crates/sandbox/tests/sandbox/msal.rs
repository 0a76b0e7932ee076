//! Microsoft's own libraries against the sandbox (issue 21): tests/msal/run.sh makes a Python
//! venv under target/ with MSAL and msgraph-sdk from PyPI (pinned in tests/msal/requirements.txt),
//! starts `tsched-sandbox --tls --auto-consent` and runs tests/msal/msal_graph.py. It needs
//! `python3 -m venv` (python3-venv, installed by scripts/ensure-deps.sh test) and PyPI the first
//! time; without them it FAILS saying so, it never skips.

use std::process::Command;

#[test]
fn msal_and_the_graph_sdk_for_python_work_unmodified_against_the_tls_sandbox() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/msal/run.sh");
    let out = Command::new("bash")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_tsched-sandbox"))
        .output()
        .expect("bash runs tests/msal/run.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "MSAL + Graph SDK contract failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    let steps = stdout.lines().filter(|l| l.starts_with("ok ")).count();
    assert!(
        steps >= 15 && stdout.contains("all steps passed"),
        "every step must have run (got {steps} ok lines):\n{stdout}"
    );
}
