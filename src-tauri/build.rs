//! Reads `tauri.conf.json` and the capabilities for the window (desktop builds only).

fn main() {
    #[cfg(feature = "desktop")]
    tauri_build::build();
}
