//! Citrus Workstation's window: a Leptos client-side app talking to the Tauri shell.

mod api;
mod app;
mod components;
mod draft;
mod errors;
mod format;
mod live;
mod state;
mod types;
mod views;

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
