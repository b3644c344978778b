//! The processes an end-to-end run needs: a virtual display (Xvfb) and tauri-driver in front
//! of WebKitWebDriver, both stopped when the test ends.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process killed on drop, with the processes it started (tauri-driver leaves its
/// WebKitWebDriver running otherwise).
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        for pid in children_of(self.0.id()) {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Process ids whose parent is `parent`.
fn children_of(parent: u32) -> Vec<u32> {
    process_ids()
        .into_iter()
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                // The parent id is the second field after the parenthesised command name.
                stat.rsplit(')')
                    .next()
                    .and_then(|rest| rest.split_whitespace().nth(1))
                    .and_then(|ppid| ppid.parse::<u32>().ok())
                    == Some(parent)
            })
        })
        .collect()
}

/// Every process id in /proc.
fn process_ids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .collect()
}

/// Xvfb and tauri-driver, running.
pub struct Desktop {
    _driver: Guard,
    _display: Guard,
    /// The driver's URL.
    pub driver_url: String,
}

fn require(program: &str, package: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "{program} is not installed ({package}); run scripts/setup first"
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn wait_for_port(port: u16, what: &str) {
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{what} did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl Desktop {
    /// Starts a private display and the driver; the app will keep its data in `home`.
    pub fn start(home: &Path) -> Self {
        require("Xvfb", "apt package xvfb");
        require("WebKitWebDriver", "apt package webkit2gtk-driver");
        require("tauri-driver", "cargo install tauri-driver");
        let number = (90..200)
            .find(|n| !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists())
            .expect("a free display number");
        let display = format!(":{number}");
        let xvfb = Command::new("Xvfb")
            .args([&display, "-screen", "0", "1440x900x24", "-nolisten", "tcp"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb starts");
        let start = Instant::now();
        while !Path::new(&format!("/tmp/.X11-unix/X{number}")).exists() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "Xvfb did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let (port, native_port) = (free_port(), free_port());
        let driver = Command::new("tauri-driver")
            .args(["--port", &port.to_string()])
            .args(["--native-port", &native_port.to_string()])
            .env("DISPLAY", &display)
            .env("CITRUS_HOME", home)
            .env("CITRUS_E2E", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tauri-driver starts");
        wait_for_port(port, "tauri-driver");
        Self {
            _display: Guard(xvfb),
            _driver: Guard(driver),
            driver_url: format!("http://127.0.0.1:{port}"),
        }
    }
}

/// Process ids of running processes whose executable is `binary`.
pub fn processes_of(binary: &Path) -> Vec<u32> {
    let Ok(binary) = std::fs::canonicalize(binary) else {
        return Vec::new();
    };
    process_ids()
        .into_iter()
        .filter(|pid| std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| exe == binary))
        .collect()
}
