//! Calendar dates from the system clock, without a date-time dependency.

use std::time::{SystemTime, UNIX_EPOCH};

/// A UTC date and time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UtcTime {
    /// Year, e.g. 2026.
    pub year: i64,
    /// Month, 1–12.
    pub month: u32,
    /// Day of the month, 1–31.
    pub day: u32,
    /// Seconds since midnight, with fractions.
    pub seconds_of_day: f64,
}

impl UtcTime {
    /// The current time.
    pub fn now() -> Self {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        Self::from_unix_seconds(secs)
    }

    /// The time `secs` seconds after 1970-01-01T00:00:00Z.
    pub fn from_unix_seconds(secs: f64) -> Self {
        let days = (secs / 86_400.0).floor() as i64;
        let (year, month, day) = civil_from_days(days);
        Self {
            year,
            month,
            day,
            seconds_of_day: secs - days as f64 * 86_400.0,
        }
    }

    /// RFC 3339 text with milliseconds, e.g. `2026-11-21T22:40:05.123Z` (sorts as time does).
    pub fn rfc3339(&self) -> String {
        let s = self.seconds_of_day;
        let (h, m) = ((s / 3600.0) as u32, ((s % 3600.0) / 60.0) as u32);
        format!(
            "{:04}-{:02}-{:02}T{h:02}:{m:02}:{:06.3}Z",
            self.year,
            self.month,
            self.day,
            s % 60.0
        )
    }
}

/// Days since 1970-01-01 to (year, month, day), after Howard Hinnant's algorithm.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_are_right() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_778), (2026, 11, 21));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn formats_rfc3339() {
        let t = UtcTime::from_unix_seconds(20_778.0 * 86_400.0 + 3_723.5);
        assert_eq!(t.rfc3339(), "2026-11-21T01:02:03.500Z");
    }
}
