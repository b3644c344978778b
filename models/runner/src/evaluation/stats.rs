//! The statistics an evaluation reports: accuracy with its 95% Wilson score interval, the
//! chance and majority-key baselines, and the paired comparison of two runs on the same
//! items (difference with Newcombe's interval, exact McNemar test).

pub use citrus_types::evaluation::{PairedComparison, Proportion};

/// The normal quantile of a two-sided 95% interval.
const Z95: f64 = 1.959_963_984_540_054;

/// `successes` out of `n` with its 95% Wilson score interval (the whole [0, 1] when n is 0).
pub fn wilson(successes: usize, n: usize) -> Proportion {
    if n == 0 {
        return Proportion {
            successes,
            n,
            value: 0.0,
            low: 0.0,
            high: 1.0,
        };
    }
    let (x, n_f) = (successes as f64, n as f64);
    let p = x / n_f;
    let z2 = Z95 * Z95;
    let denominator = 1.0 + z2 / n_f;
    let centre = p + z2 / (2.0 * n_f);
    let half = Z95 * (p * (1.0 - p) / n_f + z2 / (4.0 * n_f * n_f)).sqrt();
    Proportion {
        successes,
        n,
        value: p,
        low: ((centre - half) / denominator).max(0.0),
        high: ((centre + half) / denominator).min(1.0),
    }
}

/// The accuracy of guessing uniformly: the mean of 1/k over items with k options.
pub fn chance_baseline(option_counts: &[usize]) -> f64 {
    if option_counts.is_empty() {
        return 0.0;
    }
    let sum: f64 = option_counts
        .iter()
        .filter(|k| **k > 0)
        .map(|k| 1.0 / *k as f64)
        .sum();
    sum / option_counts.len() as f64
}

/// The accuracy of always answering the most frequent key letter, and that letter.
pub fn majority_key_baseline<S: AsRef<str>>(keys: &[S]) -> (f64, Option<String>) {
    let mut counts: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for key in keys {
        *counts.entry(key.as_ref()).or_default() += 1;
    }
    match counts.into_iter().max_by_key(|(_, count)| *count) {
        Some((letter, count)) => (count as f64 / keys.len() as f64, Some(letter.to_string())),
        None => (0.0, None),
    }
}

/// Exact two-sided McNemar test: the binomial probability (p = ½) of a split of the
/// discordant pairs at least as uneven as `b` vs `c`.
pub fn mcnemar_exact(b: usize, c: usize) -> f64 {
    let n = b + c;
    if n == 0 {
        return 1.0;
    }
    let k = b.min(c);
    // Σ_{i ≤ k} C(n, i) / 2^n, in log space so large n cannot overflow.
    let ln_half_n = n as f64 * 0.5f64.ln();
    let mut ln_choose = 0.0f64; // ln C(n, 0)
    let mut tail = 0.0f64;
    for i in 0..=k {
        if i > 0 {
            ln_choose += ((n - i + 1) as f64).ln() - (i as f64).ln();
        }
        tail += (ln_choose + ln_half_n).exp();
    }
    (2.0 * tail).min(1.0)
}

/// Compares two runs from their per-item correctness on the same items, in the same order.
pub fn paired(first: &[bool], second: &[bool]) -> PairedComparison {
    let (mut a, mut b, mut c, mut d) = (0, 0, 0, 0);
    for (x, y) in first.iter().zip(second) {
        match (x, y) {
            (true, true) => a += 1,
            (true, false) => b += 1,
            (false, true) => c += 1,
            (false, false) => d += 1,
        }
    }
    let n = a + b + c + d;
    let p_value = mcnemar_exact(b, c);
    if n == 0 {
        return PairedComparison {
            both_right: 0,
            only_first: 0,
            only_second: 0,
            both_wrong: 0,
            difference: 0.0,
            low: -1.0,
            high: 1.0,
            p_value,
        };
    }
    let first_p = wilson(a + b, n);
    let second_p = wilson(a + c, n);
    let (p1, p2) = (first_p.value, second_p.value);
    let denominator = ((a + b) * (c + d) * (a + c) * (b + d)) as f64;
    let phi = if denominator == 0.0 {
        0.0
    } else {
        (a as f64 * d as f64 - b as f64 * c as f64) / denominator.sqrt()
    };
    let difference = p1 - p2;
    let below = ((p1 - first_p.low).powi(2)
        - 2.0 * phi * (p1 - first_p.low) * (second_p.high - p2)
        + (second_p.high - p2).powi(2))
    .max(0.0)
    .sqrt();
    let above = ((first_p.high - p1).powi(2)
        - 2.0 * phi * (first_p.high - p1) * (p2 - second_p.low)
        + (p2 - second_p.low).powi(2))
    .max(0.0)
    .sqrt();
    PairedComparison {
        both_right: a,
        only_first: b,
        only_second: c,
        both_wrong: d,
        difference,
        low: (difference - below).max(-1.0),
        high: (difference + above).min(1.0),
        p_value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn wilson_matches_values_computed_by_hand() {
        // 0/10: the textbook (0, 0.2775).
        let p = wilson(0, 10);
        assert!(
            close(p.low, 0.0) && close(p.high, 0.277_532_799_862_889_2),
            "{p:?}"
        );
        let p = wilson(81, 100);
        assert!(close(p.low, 0.722_211_546_209_356_2), "{p:?}");
        assert!(close(p.high, 0.874_852_484_902_312_7), "{p:?}");
        let p = wilson(10, 10);
        assert!(
            close(p.low, 0.722_467_200_137_110_6) && close(p.high, 1.0),
            "{p:?}"
        );
        assert_eq!((wilson(0, 0).low, wilson(0, 0).high), (0.0, 1.0));
    }

    #[test]
    fn exact_mcnemar_matches_the_binomial_tail() {
        // b = 9, c = 2: 2 · (C(11,0) + C(11,1) + C(11,2)) / 2^11 = 134 / 2048.
        assert!(close(mcnemar_exact(9, 2), 134.0 / 2048.0));
        assert!(close(mcnemar_exact(2, 9), 134.0 / 2048.0));
        assert!(close(mcnemar_exact(0, 6), 2.0 / 64.0));
        assert_eq!(mcnemar_exact(5, 5), 1.0);
        assert_eq!(mcnemar_exact(0, 0), 1.0);
        // Large counts stay finite and tiny.
        let p = mcnemar_exact(900, 600);
        assert!(p > 0.0 && p < 1e-10, "{p}");
    }

    #[test]
    fn baselines() {
        assert!(close(
            chance_baseline(&[4, 4, 5, 10]),
            (0.25 + 0.25 + 0.2 + 0.1) / 4.0
        ));
        let (rate, letter) = majority_key_baseline(&["A", "C", "C", "B", "C"]);
        assert!(close(rate, 0.6));
        assert_eq!(letter.as_deref(), Some("C"));
        assert_eq!(majority_key_baseline::<&str>(&[]), (0.0, None));
    }

    #[test]
    fn paired_comparison_matches_newcombes_formula_by_hand() {
        // 12 both right, 9 only the first, 2 only the second, 21 both wrong.
        let mut first = Vec::new();
        let mut second = Vec::new();
        for (x, y, count) in [
            (true, true, 12),
            (true, false, 9),
            (false, true, 2),
            (false, false, 21),
        ] {
            for _ in 0..count {
                first.push(x);
                second.push(y);
            }
        }
        let c = paired(&first, &second);
        assert_eq!(
            (c.both_right, c.only_first, c.only_second, c.both_wrong),
            (12, 9, 2, 21)
        );
        assert!(close(c.difference, 7.0 / 44.0));
        assert!(close(c.low, 0.018_210_226_243_591_948), "{c:?}");
        assert!(close(c.high, 0.289_156_659_588_272_36), "{c:?}");
        assert!(close(c.p_value, 134.0 / 2048.0));
    }
}
