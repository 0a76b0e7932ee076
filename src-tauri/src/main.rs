//! Teams Scheduler desktop app entry point.

// Without this a release build on Windows opens a console window next to the app.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    // Before anything else runs: it changes the environment the web processes inherit.
    teams_scheduler::rendering::prefer_cpu_painting();
    teams_scheduler::run();
}
