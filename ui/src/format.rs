//! Small formatting helpers for numbers, sizes and times.

/// A byte count in human units, e.g. `4.1 GB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// A parameter count in short form, e.g. `8.0B` or `494M`.
pub fn params(n: u64) -> String {
    if n >= 1_000_000_000 {
        format!("{:.1}B", n as f64 / 1e9)
    } else if n >= 1_000_000 {
        format!("{:.0}M", n as f64 / 1e6)
    } else {
        n.to_string()
    }
}

/// Elapsed seconds as `m:ss.s`.
pub fn elapsed(seconds: f64) -> String {
    let minutes = (seconds / 60.0).floor();
    format!("{}:{:04.1}", minutes as u64, seconds - minutes * 60.0)
}

/// Tokens per second, or a dash while there is nothing to measure.
pub fn rate(tokens: u64, seconds: f64) -> String {
    if seconds > 0.0 && tokens > 0 {
        format!("{:.1} tok/s", tokens as f64 / seconds)
    } else {
        "– tok/s".to_string()
    }
}

/// An RFC 3339 timestamp shortened to `YYYY-MM-DD HH:MM`.
pub fn timestamp(rfc3339: &str) -> String {
    let cut: String = rfc3339.chars().take(16).collect();
    cut.replacen('T', " ", 1)
}

/// The last `max` characters of `text` (on a character boundary).
pub fn tail(text: &str, max: usize) -> &str {
    let count = text.chars().count();
    if count <= max {
        return text;
    }
    let skip = count - max;
    let start = text.char_indices().nth(skip).map_or(0, |(i, _)| i);
    &text[start..]
}

/// A fraction as a percentage with one decimal, e.g. `27.4%`.
pub fn percent(fraction: f64) -> String {
    format!("{:.1}%", fraction * 100.0)
}

/// A 95% interval of fractions as `25.0–29.9%`.
pub fn interval(low: f64, high: f64) -> String {
    format!("{:.1}–{:.1}%", low * 100.0, high * 100.0)
}

/// Seconds as a short duration: `45 s`, `3 min 20 s`, `1 h 05 min`.
pub fn duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min {:02} s", s / 60, s % 60),
        _ => format!("{} h {:02} min", s / 3600, s % 3600 / 60),
    }
}
