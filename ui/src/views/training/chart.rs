//! The run's charts, drawn as SVG by the window itself, over the run's steps: the loss
//! (training as a line, validation as a line with dots), and for a preference run its reward
//! accuracy, its margin, and the chosen and rejected answers' log-probabilities.

use leptos::prelude::*;

use crate::types::{PointKind, TrainPoint};
use citrus_types::training::chosen_keeps_falling;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;

/// One curve of a chart: the points of one kind, and what is read from each.
#[derive(Clone, Copy)]
struct Series {
    /// Its CSS class (`series-train`, `series-validation`, …) and legend.
    class: &'static str,
    label: &'static str,
    kind: PointKind,
    value: fn(&TrainPoint) -> Option<f64>,
}

impl Series {
    fn values(&self, points: &[TrainPoint]) -> Vec<(usize, f64)> {
        points
            .iter()
            .filter(|p| p.kind == self.kind)
            .filter_map(|p| {
                (self.value)(p)
                    .filter(|v| v.is_finite())
                    .map(|v| (p.step, v))
            })
            .collect()
    }
}

/// Where points land: steps across, value up.
struct Scale {
    steps: f64,
    low: f64,
    high: f64,
}

impl Scale {
    fn of(values: &[(usize, f64)], total_steps: usize, floor: Option<f64>) -> Option<Self> {
        let (low, high) = values
            .iter()
            .fold((f64::MAX, f64::MIN), |(lo, hi), &(_, v)| {
                (lo.min(v), hi.max(v))
            });
        if low > high {
            return None;
        }
        let pad = ((high - low) * 0.08).max(0.01);
        let last = values.iter().map(|&(s, _)| s).max().unwrap_or(0);
        Some(Self {
            steps: total_steps.max(last).max(1) as f64,
            low: floor.map_or(low - pad, |f| (low - pad).max(f)),
            high: high + pad,
        })
    }

    fn x(&self, step: usize) -> f64 {
        LEFT + (WIDTH - LEFT - RIGHT) * step as f64 / self.steps
    }

    fn y(&self, value: f64) -> f64 {
        TOP + (HEIGHT - TOP - BOTTOM) * (self.high - value) / (self.high - self.low)
    }

    /// The SVG path through `values`.
    fn path(&self, values: &[(usize, f64)]) -> String {
        values
            .iter()
            .enumerate()
            .map(|(i, &(step, value))| {
                let command = if i == 0 { 'M' } else { 'L' };
                format!("{command}{:.1},{:.1}", self.x(step), self.y(value))
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A chart of `series` over `points`; `floor` bounds the axis from below (0 for a loss).
#[component]
fn MetricChart(
    points: Signal<Vec<TrainPoint>>,
    total_steps: Signal<usize>,
    id: &'static str,
    title: &'static str,
    series: Vec<Series>,
    floor: Option<f64>,
) -> impl IntoView {
    let curves = series.clone();
    let drawn = move || {
        let points = points.get();
        let values: Vec<Vec<(usize, f64)>> = curves.iter().map(|s| s.values(&points)).collect();
        let all: Vec<(usize, f64)> = values.iter().flatten().copied().collect();
        let Some(scale) = Scale::of(&all, total_steps.get(), floor) else {
            return view! {
                <text x=WIDTH / 2.0 y=HEIGHT / 2.0 text-anchor="middle" class="chart-empty">
                    "The curve appears here from the first step."
                </text>
            }
            .into_any();
        };
        let grid = [scale.high, (scale.high + scale.low) / 2.0, scale.low];
        let lines = curves
            .iter()
            .zip(&values)
            .map(|(s, v)| {
                // Validation points are dots; so is a curve of one point (a line needs two).
                let dots = (s.kind == PointKind::Validation || v.len() == 1).then(|| {
                    v.iter()
                        .map(|&(step, value)| {
                            view! { <circle class=format!("{}-dot", s.class) cx=scale.x(step) cy=scale.y(value) r="3"/> }
                        })
                        .collect_view()
                });
                view! { <path class=s.class d=scale.path(v)/> {dots} }
            })
            .collect_view();
        view! {
            <g class="chart-grid">
                {grid.into_iter().map(|value| view! {
                    <line x1=LEFT x2=WIDTH - RIGHT y1=scale.y(value) y2=scale.y(value)/>
                    <text x=LEFT - 6.0 y=scale.y(value) + 4.0 text-anchor="end">{format!("{value:.2}")}</text>
                }).collect_view()}
                <text x=LEFT y=HEIGHT - 8.0 text-anchor="start">"0"</text>
                <text x=WIDTH - RIGHT y=HEIGHT - 8.0 text-anchor="end">{format!("step {}", scale.steps)}</text>
            </g>
            {lines}
        }
        .into_any()
    };
    let count =
        move |kind: PointKind| move || points.with(|p| p.iter().filter(|p| p.kind == kind).count());
    view! {
        <figure class="loss-chart">
            <svg
                id=id
                viewBox=format!("0 0 {WIDTH} {HEIGHT}")
                role="img"
                aria-label=title
                data-train-points=count(PointKind::Train)
                data-validation-points=count(PointKind::Validation)
            >
                {drawn}
            </svg>
            <figcaption>
                <strong>{title}</strong>
                {series.iter().map(|s| view! { <span class=format!("legend-{}", s.class)>{s.label}</span> }).collect_view()}
            </figcaption>
        </figure>
    }
}

/// The loss chart of `points` over `total_steps`.
#[component]
pub fn LossChart(
    /// The series so far.
    points: Signal<Vec<TrainPoint>>,
    /// Steps in the whole run (the x axis ends there).
    total_steps: Signal<usize>,
    /// The element id.
    id: &'static str,
) -> impl IntoView {
    let series = vec![
        Series {
            class: "series-train",
            label: "Training loss",
            kind: PointKind::Train,
            value: |p| Some(p.loss),
        },
        Series {
            class: "series-validation",
            label: "Validation loss",
            kind: PointKind::Validation,
            value: |p| Some(p.loss),
        },
    ];
    view! {
        <MetricChart id=id title="Loss" points=points total_steps=total_steps series=series floor=Some(0.0)/>
    }
}

/// A preference run's charts: reward accuracy and margin on training and held-out pairs,
/// and the chosen and rejected answers' log-probability per token on both, with
/// a warning when the chosen one keeps falling. Nothing for an SFT run.
#[component]
pub fn PreferenceCharts(
    points: Signal<Vec<TrainPoint>>,
    total_steps: Signal<usize>,
    /// The element ids of the accuracy, margin and log-probability charts.
    ids: [&'static str; 3],
) -> impl IntoView {
    let pair = |label_train, label_validation, value: fn(&TrainPoint) -> Option<f64>| {
        vec![
            Series {
                class: "series-train",
                label: label_train,
                kind: PointKind::Train,
                value,
            },
            Series {
                class: "series-validation",
                label: label_validation,
                kind: PointKind::Validation,
                value,
            },
        ]
    };
    let accuracy = pair("Training pairs", "Held-out pairs", |p| {
        p.preference.map(|s| s.reward_accuracy)
    });
    let margin = pair("Training pairs", "Held-out pairs", |p| {
        p.preference.map(|s| s.margin)
    });
    let logps = vec![
        Series {
            class: "series-chosen",
            label: "Chosen",
            kind: PointKind::Train,
            value: |p| p.preference.map(|s| s.chosen_logp),
        },
        Series {
            class: "series-rejected",
            label: "Rejected",
            kind: PointKind::Train,
            value: |p| p.preference.map(|s| s.rejected_logp),
        },
        Series {
            class: "series-chosen-held",
            label: "Chosen (held-out)",
            kind: PointKind::Validation,
            value: |p| p.preference.map(|s| s.chosen_logp),
        },
        Series {
            class: "series-rejected-held",
            label: "Rejected (held-out)",
            kind: PointKind::Validation,
            value: |p| p.preference.map(|s| s.rejected_logp),
        },
    ];
    let is_preference = move || points.with(|p| p.iter().any(|p| p.preference.is_some()));
    let chosen_falling = move || {
        points.with(|p| {
            let chosen: Vec<f64> = p
                .iter()
                .filter(|p| p.kind == PointKind::Validation)
                .filter_map(|p| p.preference.map(|s| s.chosen_logp))
                .collect();
            chosen_keeps_falling(&chosen)
        })
    };
    view! {
        <Show when=is_preference>
            <div class="preference-charts">
                <MetricChart id=ids[0] title="Reward accuracy" points=points total_steps=total_steps series=accuracy.clone() floor=Some(0.0)/>
                <MetricChart id=ids[1] title="Reward margin (chosen − rejected)" points=points total_steps=total_steps series=margin.clone() floor=None/>
                <MetricChart id=ids[2] title="Log-probability per token" points=points total_steps=total_steps series=logps.clone() floor=None/>
                <Show when=chosen_falling>
                    <p id="chosen-falling" class="bad-text" role="alert">
                        "The chosen answers' log-probability has fallen at each of the last validations: the margin grows by lowering both answers. Consider a lower learning rate or a larger α."
                    </p>
                </Show>
            </div>
        </Show>
    }
}
