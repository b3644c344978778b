//! The loss chart, drawn as SVG by the window itself: training loss as a line, validation
//! loss as a line with dots, over the run's steps.

use leptos::prelude::*;

use crate::types::{PointKind, TrainPoint};

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;

/// Where points land: steps across, loss up.
struct Scale {
    steps: f64,
    low: f64,
    high: f64,
}

impl Scale {
    fn of(points: &[TrainPoint], total_steps: usize) -> Option<Self> {
        let losses = points.iter().map(|p| p.loss).filter(|l| l.is_finite());
        let (low, high) = losses.fold((f64::MAX, f64::MIN), |(lo, hi), l| (lo.min(l), hi.max(l)));
        if low > high {
            return None;
        }
        let pad = ((high - low) * 0.08).max(0.01);
        let last = points.iter().map(|p| p.step).max().unwrap_or(0);
        Some(Self {
            steps: total_steps.max(last).max(1) as f64,
            low: (low - pad).max(0.0),
            high: high + pad,
        })
    }

    fn x(&self, step: usize) -> f64 {
        LEFT + (WIDTH - LEFT - RIGHT) * step as f64 / self.steps
    }

    fn y(&self, loss: f64) -> f64 {
        TOP + (HEIGHT - TOP - BOTTOM) * (self.high - loss) / (self.high - self.low)
    }

    /// The SVG path through the points of `kind`.
    fn path(&self, points: &[TrainPoint], kind: PointKind) -> String {
        points
            .iter()
            .filter(|p| p.kind == kind && p.loss.is_finite())
            .enumerate()
            .map(|(i, p)| {
                let command = if i == 0 { 'M' } else { 'L' };
                format!("{command}{:.1},{:.1}", self.x(p.step), self.y(p.loss))
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The chart of `points` over `total_steps`.
#[component]
pub fn LossChart(
    /// The series so far.
    points: Signal<Vec<TrainPoint>>,
    /// Steps in the whole run (the x axis ends there).
    total_steps: Signal<usize>,
    /// The element id.
    id: &'static str,
) -> impl IntoView {
    let drawn = move || {
        let points = points.get();
        let Some(scale) = Scale::of(&points, total_steps.get()) else {
            return view! {
                <text x=WIDTH / 2.0 y=HEIGHT / 2.0 text-anchor="middle" class="chart-empty">
                    "The loss appears here from the first step."
                </text>
            }
            .into_any();
        };
        let validation: Vec<(f64, f64)> = points
            .iter()
            .filter(|p| p.kind == PointKind::Validation && p.loss.is_finite())
            .map(|p| (scale.x(p.step), scale.y(p.loss)))
            .collect();
        let grid = [scale.high, (scale.high + scale.low) / 2.0, scale.low];
        view! {
            <g class="chart-grid">
                {grid.into_iter().map(|loss| view! {
                    <line x1=LEFT x2=WIDTH - RIGHT y1=scale.y(loss) y2=scale.y(loss)/>
                    <text x=LEFT - 6.0 y=scale.y(loss) + 4.0 text-anchor="end">{format!("{loss:.2}")}</text>
                }).collect_view()}
                <text x=LEFT y=HEIGHT - 8.0 text-anchor="start">"0"</text>
                <text x=WIDTH - RIGHT y=HEIGHT - 8.0 text-anchor="end">{format!("step {}", scale.steps)}</text>
            </g>
            <path class="series-train" d=scale.path(&points, PointKind::Train)/>
            <path class="series-validation" d=scale.path(&points, PointKind::Validation)/>
            {validation.into_iter().map(|(x, y)| view! { <circle class="series-validation-dot" cx=x cy=y r="3"/> }).collect_view()}
        }
        .into_any()
    };
    let train_count =
        move || points.with(|p| p.iter().filter(|p| p.kind == PointKind::Train).count());
    let validation_count =
        move || points.with(|p| p.iter().filter(|p| p.kind == PointKind::Validation).count());
    view! {
        <figure class="loss-chart">
            <svg
                id=id
                viewBox=format!("0 0 {WIDTH} {HEIGHT}")
                role="img"
                aria-label="Training and validation loss by step"
                data-train-points=train_count
                data-validation-points=validation_count
            >
                {drawn}
            </svg>
            <figcaption>
                <span class="legend-train">"Training loss"</span>
                <span class="legend-validation">"Validation loss"</span>
            </figcaption>
        </figure>
    }
}
