//! A progress bar for model loading, drawn on stderr (hidden when stderr is not a terminal).

use std::path::Path;

use citrus_models::model::LoadProgress;
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
