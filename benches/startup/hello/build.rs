//! Generates the Tauri context (config, embedded page, icon), as every Tauri app does.

fn main() {
    tauri_build::build();
}
