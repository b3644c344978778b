//! The training benchmark: step time, tokens per second and peak memory for LoRA on the
//! attention projections and on all seven, with a dense and a quantized base, at given
//! sequence lengths (`citrus train --bench`); and a preference step (a pair of answers) beside
//! an SFT step at the same length (`citrus train --bench --method cpo-simpo`).

use std::path::Path;
use std::time::Instant;

use citrus_engine::device::DeviceChoice;
use citrus_engine::lora::LoraTarget;
use citrus_engine::model::{LoadOptions, Model};
use citrus_engine::transformer::TrainingPass;
use citrus_host::memory::{available_system_memory, mib};
use serde::{Deserialize, Serialize};

use crate::config::LoraSettings;
use crate::dataset::TokenizedExample;
use crate::error::Result;
use crate::optim::{clip_global_norm, AdamW};
use crate::preference::PreferenceSettings;
use crate::preflight::{activation_budget, peak_since_reset, reset_peak};
use crate::trainer::{pair_backward, Batch, Gradients, LoraSlots, PairBatches};

/// What a timed step computes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StepKind {
    /// An SFT step on one sequence.
    Sft,
    /// A preference step on a pair of sequences of the same length.
    Preference(PreferenceSettings),
}

impl StepKind {
    fn name(&self) -> String {
        match self {
            Self::Sft => "sft".into(),
            Self::Preference(settings) => serde_json::to_value(settings.method)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
        }
    }
}

/// One measured configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchRow {
    /// `sft`, or the preference method (`cpo-simpo`…).
    #[serde(default)]
    pub method: String,
    /// `dense` (f32) or `quantized` (as stored).
    pub base: String,
    /// `q,k,v,o` or `all`.
    pub targets: String,
    /// Tokens in the sequence.
    pub seq_len: usize,
    /// Trainable parameters.
    pub trainable_parameters: usize,
    /// Seconds per optimizer step (forward, backward, AdamW), the mean of the timed steps.
    pub step_seconds: f64,
    /// Tokens per second.
    pub tokens_per_second: f64,
    /// Peak resident memory during the timed steps, MiB.
    pub peak_rss_mib: Option<u64>,
}

/// Which configurations to measure.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchPlan {
    /// Sequence lengths in tokens.
    pub lengths: Vec<usize>,
    /// Sets of adapted projections.
    pub targets: Vec<Vec<LoraTarget>>,
    /// Bases: `true` quantized as stored, `false` dense f32.
    pub quantized: Vec<bool>,
    /// Where the steps run (`--device`).
    pub device: DeviceChoice,
    /// Recompute every block in the backward pass (the least memory) instead of keeping what
    /// half the free memory holds, as a run with memory to spare does
    /// ([`crate::preflight::activation_budget`]).
    pub recompute: bool,
}

impl Default for BenchPlan {
    /// Every row: 256 and 512 tokens, q,k,v,o and all seven, quantized and dense.
    fn default() -> Self {
        Self {
            lengths: vec![256, 512],
            targets: vec![
                vec![LoraTarget::Q, LoraTarget::K, LoraTarget::V, LoraTarget::O],
                LoraTarget::ALL.to_vec(),
            ],
            quantized: vec![true, false],
            device: DeviceChoice::Cpu,
            recompute: false,
        }
    }
}

impl BenchPlan {
    /// What a step may keep of its forward pass: as a training run sets it, half the memory
    /// the system has free now (the model loaded), or nothing with `recompute`.
    fn activation_budget(&self) -> u64 {
        if self.recompute {
            0
        } else {
            activation_budget(available_system_memory(), 0)
        }
    }

    /// How the model is loaded for a base: the trainer's options, on the plan's device.
    fn load_options(&self, quantized: bool) -> LoadOptions {
        LoadOptions {
            device: self.device,
            ..crate::load_options(quantized)
        }
    }
}

/// Measures every configuration of `plan` on the model at `path`: `steps` timed steps after
/// one warm-up, one sequence per step, half prompt and half trained reply. `on_row` sees each
/// row as it is measured.
pub fn run(
    path: &Path,
    plan: &BenchPlan,
    steps: usize,
    on_row: &mut dyn FnMut(&BenchRow),
) -> Result<Vec<BenchRow>> {
    let _reuse = citrus_host::memory::ReuseFreedMemory::begin();
    let mut rows = Vec::new();
    // Peak RSS is the process's: measure the smaller configurations first, so memory freed
    // but kept by the allocator never exceeds what the next configuration needs anyway.
    let mut bases = plan.quantized.clone();
    bases.sort_by_key(|quantized| !quantized);
    for quantized in bases {
        let mut model = Model::load(path, &plan.load_options(quantized), &mut |_| {})?;
        for targets in plan.targets.clone() {
            let settings = LoraSettings {
                targets: targets.clone(),
                ..LoraSettings::default()
            };
            for &len in &plan.lengths {
                let step = StepPlan {
                    len,
                    steps,
                    quantized,
                    kind: StepKind::Sft,
                    activation_budget: plan.activation_budget(),
                };
                let row = measure(&mut model, &settings, step)?;
                on_row(&row);
                rows.push(row);
            }
        }
    }
    Ok(rows)
}

/// A preference step (`settings`) beside an SFT step at each length, on the dense base with
/// LoRA on q,k,v,o: step time and peak memory.
pub fn run_preference(
    path: &Path,
    plan: &BenchPlan,
    steps: usize,
    settings: PreferenceSettings,
    on_row: &mut dyn FnMut(&BenchRow),
) -> Result<Vec<BenchRow>> {
    let _reuse = citrus_host::memory::ReuseFreedMemory::begin();
    let mut model = Model::load(path, &plan.load_options(false), &mut |_| {})?;
    let lora = LoraSettings::default();
    let mut rows = Vec::new();
    for &len in &plan.lengths {
        for kind in [StepKind::Sft, StepKind::Preference(settings)] {
            let step = StepPlan {
                len,
                steps,
                quantized: false,
                kind,
                activation_budget: plan.activation_budget(),
            };
            let row = measure(&mut model, &lora, step)?;
            on_row(&row);
            rows.push(row);
        }
    }
    Ok(rows)
}

/// One row's step: its length, the timed steps, the base, what it computes and what its backward
/// pass may keep.
struct StepPlan {
    len: usize,
    steps: usize,
    quantized: bool,
    kind: StepKind,
    activation_budget: u64,
}

fn measure(model: &mut Model, settings: &LoraSettings, plan: StepPlan) -> Result<BenchRow> {
    let StepPlan {
        len,
        steps,
        quantized,
        kind,
        activation_budget,
    } = plan;
    let slots = LoraSlots::attach(model, settings, 1)?;
    let mut optimizer = AdamW::new(slots.vars(), 0.0)?;
    let example = synthetic_example(model, len)?;
    let device = model.transformer().device();
    let batch = Batch::new(&[&example], device)?;
    // The rejected answer: the same length, other tokens.
    let mut other = example.clone();
    other.ids.rotate_left(7);
    let pair = PairBatches {
        chosen: Batch::new(&[&example], device)?,
        rejected: Batch::new(&[&other], device)?,
        reference: None,
    };
    let pass = TrainingPass {
        lora_dropout: 0.0,
        seed: 0,
        activation_budget,
    };
    let step = |optimizer: &mut AdamW| -> Result<()> {
        let mut grads = Gradients::new();
        match kind {
            StepKind::Sft => {
                let scale = 1.0 / batch.trained_tokens as f64;
                batch.backward(model.transformer(), pass, scale, &slots, &mut grads)?;
            }
            StepKind::Preference(preference) => {
                pair_backward(
                    model.transformer(),
                    pass,
                    &preference,
                    &pair,
                    1.0,
                    &mut |store| slots.accumulate(store, &mut grads),
                )?;
            }
        }
        let mut grads = slots.dense(grads)?;
        clip_global_norm(&mut grads, 1.0)?;
        optimizer.step(&grads, 1e-4)
    };
    step(&mut optimizer)?;
    reset_peak();
    let start = Instant::now();
    for _ in 0..steps.max(1) {
        step(&mut optimizer)?;
    }
    let step_seconds = start.elapsed().as_secs_f64() / steps.max(1) as f64;
    let tokens = match kind {
        StepKind::Sft => len,
        StepKind::Preference(_) => 2 * len,
    };
    let row = BenchRow {
        method: kind.name(),
        base: if quantized { "quantized" } else { "dense" }.into(),
        targets: if settings.targets.len() == 7 {
            "all".into()
        } else {
            settings
                .targets
                .iter()
                .map(|t| t.short_name())
                .collect::<Vec<_>>()
                .join(",")
        },
        seq_len: len,
        trainable_parameters: slots.parameters(),
        step_seconds,
        tokens_per_second: tokens as f64 / step_seconds,
        peak_rss_mib: peak_since_reset().map(mib),
    };
    drop(slots);
    model.transformer_mut().clear_lora();
    Ok(row)
}

/// A clinical text tokenized and repeated to `len` tokens; the second half is trained.
fn synthetic_example(model: &Model, len: usize) -> Result<TokenizedExample> {
    const TEXT: &str =
        "A 58-year-old man presents with crushing substernal chest pain radiating to \
        the left arm for 40 minutes, diaphoresis and nausea. ECG shows ST elevation in II, III \
        and aVF. Troponin I is 2.4 ng/mL. The most likely diagnosis is an inferior STEMI; the \
        next step is emergent percutaneous coronary intervention. ";
    let unit = model.tokenizer().encode(TEXT)?;
    let ids: Vec<u32> = unit.iter().copied().cycle().take(len).collect();
    let trained = (0..len).map(|i| i >= len / 2).collect();
    Ok(TokenizedExample {
        line: 1,
        ids,
        trained,
        truncated: false,
    })
}
