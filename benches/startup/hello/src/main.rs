//! A Tauri v2 hello world: one window from `tauri.conf.json`, one static page, no commands and no
//! plugins. It is the start-up bench's baseline (`make bench-startup`); the only addition to the
//! stock template is the bench's first-paint probe, which is compiled from the very same file as
//! the desktop app's and is registered only when `TSCHED_BENCH_FIRST_PAINT` is set.

// Without this a release build on Windows opens a console window next to the app.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

#[path = "../../../../src-tauri/src/first_paint.rs"]
mod first_paint;

fn main() {
    let mut builder = tauri::Builder::default();
    if let Some(probe) = first_paint::plugin() {
        builder = builder.plugin(probe);
    }
    builder
        .run(tauri::generate_context!())
        .expect("invariant: the Tauri runtime starts");
}
