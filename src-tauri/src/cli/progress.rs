//! Progress bars for model loading and counted work, drawn on stderr (hidden when stderr is
//! not a terminal).

use std::path::Path;

use citrus_engine::model::LoadProgress;
use indicatif::{ProgressBar, ProgressStyle};

/// Shows bytes of weights read while a model loads.
pub struct LoadBar {
    bar: ProgressBar,
}

impl LoadBar {
    /// A bar labelled with the model's file name.
    pub fn new(path: &Path) -> Self {
        let bar = ProgressBar::new(0);
        let style = ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} ({eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        bar.set_style(style);
        let name = path
            .file_name()
            .unwrap_or(path.as_os_str())
            .to_string_lossy();
        bar.set_message(format!("loading {name}"));
        Self { bar }
    }

    /// Moves the bar.
    pub fn update(&self, progress: LoadProgress) {
        self.bar.set_length(progress.total_bytes);
        self.bar.set_position(progress.loaded_bytes);
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// Shows items done out of a total (tensors merged, examples scored…).
pub struct CountBar {
    bar: ProgressBar,
}

impl CountBar {
    /// A bar labelled `what`, counting `unit`.
    pub fn new(what: &str, unit: &str) -> Self {
        let bar = ProgressBar::new(0);
        let template = format!("{{msg}} [{{bar:30}}] {{pos}}/{{len}} {unit} ({{eta}})");
        let style = ProgressStyle::with_template(&template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        bar.set_style(style);
        bar.set_message(what.to_string());
        Self { bar }
    }

    /// Moves the bar.
    pub fn update(&self, done: usize, total: usize) {
        self.bar.set_length(total as u64);
        self.bar.set_position(done as u64);
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
