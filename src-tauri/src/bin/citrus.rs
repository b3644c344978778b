//! `citrus`: the headless command line of Citrus Workstation.

fn main() -> std::process::ExitCode {
    citrus_workstation::cli::main()
}
