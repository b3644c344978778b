//! The remote-engine part of the journey: another workstation's `citrus serve` on loopback
//! (standing in for the hospital's GPU server) added on the Models screen, chosen for a run,
//! and the run's header naming the server the case text went to.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use super::{reason, Journey};
use crate::webdriver::Session;

/// A `citrus serve` with a store of its own, stopped when dropped.
struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `citrus serve` on a free loopback port; its base URL.
fn serve(home: &std::path::Path) -> (Served, String) {
    let db = home.join("server.db");
    let mut child = Command::new(env!("CARGO_BIN_EXE_citrus"))
        .args(["serve", "--port", "0", "--db", db.to_str().unwrap()])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("start citrus serve");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let url = lines
        .by_ref()
        .take(50)
        .map_while(Result::ok)
        .find_map(|line| {
            let rest = line.split(" at ").nth(1)?;
            Some(rest.split_whitespace().next()?.to_string())
        })
        .expect("citrus serve says where it listens");
    std::thread::spawn(move || for _ in lines {});
    (Served(child), url)
}

/// Adds the server as engine `gpu-server` and reasons on the exam item with it.
pub fn reason_remotely(journey: &mut Journey, app: &Session, home: &std::path::Path) {
    let (_server, url) = serve(home);
    app.click("#nav-models");
    app.fill("#engine-name", "gpu-server");
    app.fill("#engine-url", &url);
    app.click("#add-engine");
    app.wait_text("#remote-engines", "to list the engine", |t| {
        t.contains("gpu-server") && t.contains("likelihood by letter")
    });
    journey.shot(app, "models-remote-engine");

    app.click("#nav-cases");
    let id = app.wait_until("the exam item in the list", || {
        app.all(".case-row")
            .iter()
            .find(|r| app.text(r).contains("24-year-old"))
            .and_then(|r| app.property(r, "data-case-id"))
    });
    app.click(&format!(".case-row[data-case-id='{id}']"));
    app.click("#tab-reasoning");
    app.select("#run-engine", "gpu-server");
    let host = url.trim_start_matches("http://").trim_end_matches("/v1");
    app.wait_text(".privacy-note", "to say where the case goes", |t| {
        t.contains(host)
    });
    reason(app, false, "32");
    app.wait_text("#run-status", "the remote run to finish", |t| {
        t.to_lowercase().contains("done")
    });
    app.wait_text("#run-model", "to name the server", |t| t.contains(host));
    journey.shot(app, "run-on-remote-engine");
    app.select("#run-engine", "");
}
