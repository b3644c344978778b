//! A small W3C WebDriver client over HTTP: sessions, elements, clicks, keys, text and
//! screenshots — what the end-to-end tests need, nothing more.

use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};

/// The W3C key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How long waits last before a test fails.
pub const PATIENCE: Duration = Duration::from_secs(180);

/// A WebDriver session on one app window.
pub struct Session {
    base: String,
    failure_shot: std::path::PathBuf,
}

/// An element of the page.
#[derive(Clone)]
pub struct Element {
    id: String,
}

fn call(method: &str, url: &str, body: Option<Value>) -> Result<Value, String> {
    let request = ureq::request(method, url).timeout(Duration::from_secs(120));
    let response = match body {
        Some(body) => request.send_json(body),
        None => request.call(),
    };
    let value: Value = match response {
        Ok(response) => response.into_json().map_err(|e| e.to_string())?,
        Err(ureq::Error::Status(code, response)) => {
            let body: Value = response.into_json().unwrap_or(Value::Null);
            return Err(format!("HTTP {code}: {}", body["value"]));
        }
        Err(error) => return Err(error.to_string()),
    };
    Ok(value["value"].clone())
}

impl Session {
    /// Starts the app binary through the driver at `driver` (e.g. `http://127.0.0.1:4444`).
    /// When a wait times out, a screenshot is saved to `failure_shot`.
    pub fn start(
        driver: &str,
        application: &Path,
        failure_shot: std::path::PathBuf,
    ) -> Result<Self, String> {
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "tauri:options": {"application": application}
        }}});
        let value = call("POST", &format!("{driver}/session"), Some(capabilities))?;
        let id = value["sessionId"]
            .as_str()
            .ok_or_else(|| format!("no session id in {value}"))?;
        Ok(Self {
            base: format!("{driver}/session/{id}"),
            failure_shot,
        })
    }

    fn post(&self, path: &str, body: Value) -> Result<Value, String> {
        call("POST", &format!("{}{path}", self.base), Some(body))
    }

    fn get(&self, path: &str) -> Result<Value, String> {
        call("GET", &format!("{}{path}", self.base), None)
    }

    /// Ends the session, which closes the app.
    pub fn quit(self) {
        let _ = call("DELETE", &self.base, None);
    }

    /// Every element matching a CSS selector, now.
    pub fn all(&self, css: &str) -> Vec<Element> {
        self.post("/elements", json!({"using": "css selector", "value": css}))
            .ok()
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|e| e[ELEMENT].as_str().map(|id| Element { id: id.into() }))
            .collect()
    }

    /// Waits for `css` to match an element that is displayed, and returns the first.
    pub fn find(&self, css: &str) -> Element {
        self.wait_until(&format!("{css} to be shown"), || {
            self.all(css).into_iter().find(|e| self.displayed(e))
        })
    }

    /// Polls `probe` until it returns Some, failing the test after [`PATIENCE`].
    pub fn wait_until<T>(&self, what: &str, probe: impl FnMut() -> Option<T>) -> T {
        self.wait_within(PATIENCE, what, probe)
    }

    /// Polls `probe` until it returns Some, failing the test after `patience` (for work
    /// known to take longer than [`PATIENCE`]).
    pub fn wait_within<T>(
        &self,
        patience: Duration,
        what: &str,
        mut probe: impl FnMut() -> Option<T>,
    ) -> T {
        let start = Instant::now();
        loop {
            if let Some(found) = probe() {
                return found;
            }
            if start.elapsed() >= patience {
                self.screenshot(&self.failure_shot);
                panic!(
                    "timed out waiting for {what} (screen: {})",
                    self.failure_shot.display()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the text of `css` satisfies `wanted`; returns the text.
    pub fn wait_text(&self, css: &str, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        self.wait_until(&format!("{css} {what}"), || {
            self.all(css)
                .first()
                .map(|e| self.text(e))
                .filter(|text| wanted(text))
        })
    }

    /// Whether an element is displayed.
    pub fn displayed(&self, element: &Element) -> bool {
        self.get(&format!("/element/{}/displayed", element.id))
            .is_ok_and(|v| v.as_bool() == Some(true))
    }

    /// The text of an element and its descendants (`textContent`: WebKitWebDriver's rendered
    /// text leaves out some inline children).
    pub fn text(&self, element: &Element) -> String {
        self.get(&format!("/element/{}/property/textContent", element.id))
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// An attribute or property of an element (`value`, `checked`, `data-status`…).
    pub fn property(&self, element: &Element, name: &str) -> Option<String> {
        let value = self
            .get(&format!("/element/{}/property/{name}", element.id))
            .ok()
            .filter(|v| !v.is_null())
            .or_else(|| {
                self.get(&format!("/element/{}/attribute/{name}", element.id))
                    .ok()
            })?;
        match value {
            Value::String(text) => Some(text),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    }

    /// Clicks the first shown element matching `css` (found again on each try, since a
    /// re-render may replace it).
    pub fn click(&self, css: &str) {
        self.wait_until(&format!("{css} to take a click"), || {
            let element = self.all(css).into_iter().find(|e| self.displayed(e))?;
            // WebKit refuses clicks on rows at the edge of a nested scroll area.
            self.script(
                "const e = document.querySelector(arguments[0]);
                 if (e) e.scrollIntoView({block: 'center'});",
                json!([css]),
            );
            self.post(&format!("/element/{}/click", element.id), json!({}))
                .ok()
        });
    }

    /// Replaces the text of the input matching `css` by typing `text`.
    pub fn fill(&self, css: &str, text: &str) {
        let element = self.find(css);
        let _ = self.post(&format!("/element/{}/clear", element.id), json!({}));
        self.post(
            &format!("/element/{}/value", element.id),
            json!({ "text": text }),
        )
        .unwrap_or_else(|e| panic!("typing into {css}: {e}"));
    }

    /// Runs a script in the page and returns its result.
    pub fn script(&self, source: &str, args: Value) -> Value {
        self.post("/execute/sync", json!({"script": source, "args": args}))
            .unwrap_or_else(|e| panic!("script failed: {e}"))
    }

    /// Runs an asynchronous script in the page (its last argument is the callback that
    /// returns the result) and returns its result.
    pub fn script_async(&self, source: &str, args: Value) -> Value {
        self.post("/execute/async", json!({"script": source, "args": args}))
            .unwrap_or_else(|e| panic!("script failed: {e}"))
    }

    /// Selects the option with value `value` of the select matching `css`.
    pub fn select(&self, css: &str, value: &str) {
        self.find(css);
        self.script(
            "const s = document.querySelector(arguments[0]); s.value = arguments[1];
             s.dispatchEvent(new Event('change', {bubbles: true}));",
            json!([css, value]),
        );
    }

    /// Saves a PNG of the window to `path`.
    pub fn screenshot(&self, path: &Path) {
        let data = self
            .get("/screenshot")
            .unwrap_or_else(|e| panic!("screenshot failed: {e}"));
        let png = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().unwrap_or_default())
            .expect("a base64 PNG");
        std::fs::write(path, png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}
