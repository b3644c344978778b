//! Citrus Workstation: the desktop app.

use std::process::ExitCode;

fn main() -> ExitCode {
    match citrus_workstation::app::run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error [{}]: {error}", error.code());
            ExitCode::FAILURE
        }
    }
}
