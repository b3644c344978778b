//! A running `citrus serve` (the real binary, on a free loopback port) for tests that talk
//! to it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{citrus_command, TempDir};

/// A running `citrus serve`, stopped when dropped.
pub struct Server {
    child: Child,
    pub base: String,
    _dir: TempDir,
}

impl Server {
    /// Starts `citrus serve` on a free loopback port with a store of its own (plus `extra`
    /// arguments) and waits until it listens.
    pub fn start(name: &str, extra: &[&str]) -> Self {
        let dir = TempDir::new(name);
        let db = dir.db().display().to_string();
        let mut args = vec!["serve", "--port", "0", "--db", &db];
        args.extend_from_slice(extra);
        let mut child = citrus_command(&args)
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("start citrus serve");
        let stderr = child.stderr.take().unwrap();
        let mut lines = BufReader::new(stderr).lines();
        let started = Instant::now();
        let base = loop {
            let line = lines.next().expect("citrus serve ended").unwrap();
            if let Some(rest) = line.split(" at ").nth(1) {
                break rest.split_whitespace().next().unwrap().to_string();
            }
            assert!(started.elapsed() < Duration::from_secs(60), "{line}");
        };
        // Keep draining stderr so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Self {
            child,
            base,
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The `host:port` the server listens on.
    pub fn authority(&self) -> String {
        self.base
            .trim_start_matches("http://")
            .trim_end_matches("/v1")
            .to_string()
    }

    pub fn post(&self, path: &str, body: Value) -> Result<Value, (u16, Value)> {
        match ureq::post(&self.url(path)).send_json(body) {
            Ok(response) => Ok(response.into_json().unwrap()),
            Err(ureq::Error::Status(code, response)) => Err((code, response.into_json().unwrap())),
            Err(other) => panic!("{path}: {other}"),
        }
    }

    /// The `data:` payloads of a streamed reply, in order.
    pub fn stream(&self, path: &str, body: Value) -> Vec<String> {
        let response = ureq::post(&self.url(path)).send_json(body).unwrap();
        assert_eq!(response.content_type(), "text/event-stream");
        BufReader::new(response.into_reader())
            .lines()
            .map_while(Result::ok)
            .filter_map(|line| line.strip_prefix("data: ").map(str::to_string))
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
