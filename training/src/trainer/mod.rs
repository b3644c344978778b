//! The LoRA training loop on the shared transformer, for SFT on examples and for preference
//! losses on pairs: pre-flight, steps with gradient accumulation, clipping, AdamW and the
//! warmup + cosine schedule, validation, atomic checkpoints, exact resume, cancellation from
//! another thread, and the final PEFT adapter.

mod batch;
mod claim;
mod data;
mod metrics;
mod pair_pass;
mod slots;
mod steps;

use std::path::{Path, PathBuf};
use std::time::Instant;

use citrus_engine::generation::CancelToken;
use citrus_engine::model::Model;
use citrus_engine::seeded::SeededRng;
use citrus_engine::transformer::TrainingPass;
use citrus_host::memory::available_system_memory;
use citrus_types::training::{PreferenceStats, TrainMethod};
use claim::RunClaim;
use serde::{Deserialize, Serialize};
use steps::{
    pair_gradients, pair_validation, sft_gradients, sft_validation, StepContext, StepLoss,
};

use crate::adapter::{AdapterMeta, BaseIdentity, LoraAdapter};
use crate::checkpoint::{self, CheckpointState};
use crate::config::{Duration, TrainConfig};
use crate::dataset::{TokenizedExample, TrainingData};
use crate::error::{Result, TrainError};
use crate::optim::{clip_global_norm, learning_rate, AdamW};
use crate::preflight::{
    activation_budget, check_fits, estimate_memory, peak_since_reset, reset_peak, Preflight,
    StepShape,
};

pub use batch::{Batch, DataStream};
pub use data::{PreparedData, PreparedPairs, ReferenceLogps, RunData};
pub use metrics::{MetricsLog, StepMetrics};
pub use pair_pass::{pair_backward, sequence_logp, PairBatches, SCORING_PASS};
pub use slots::{Gradients, LoraSlots};

/// The file of a DPO run's reference log-probabilities, computed once before its first step.
const REFERENCE_FILE: &str = "reference_logps.json";

/// The random stream of dropout masks.
const DROPOUT_STREAM: u64 = 0xD_0A7;

/// A training run to start or continue.
#[derive(Debug, Clone)]
pub struct TrainRequest {
    /// The settings.
    pub config: TrainConfig,
    /// The run's folder: checkpoints, metrics and the final adapter.
    pub out_dir: PathBuf,
    /// Continue the run in `out_dir` from its last checkpoint.
    pub resume: bool,
    /// Validation every N steps (0: five times over the run).
    pub eval_every: usize,
    /// A checkpoint every N steps (0: five times over the run).
    pub checkpoint_every: usize,
    /// Real steps (forward and backward, no update) that calibrate the pre-flight.
    pub calibration_steps: usize,
}

impl TrainRequest {
    /// A request with automatic validation and checkpoint intervals and two calibration steps.
    pub fn new(config: TrainConfig, out_dir: PathBuf) -> Self {
        Self {
            config,
            out_dir,
            resume: false,
            eval_every: 0,
            checkpoint_every: 0,
            calibration_steps: 2,
        }
    }
}

/// What happens during a run, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TrainEvent {
    /// The estimate, before the first step.
    Preflight(Preflight),
    /// Training starts (or resumes) at `start_step`.
    Started {
        /// The first step to run.
        start_step: usize,
        /// Steps in all.
        total_steps: usize,
        /// Training examples.
        train_examples: usize,
        /// Validation examples.
        validation_examples: usize,
    },
    /// A step finished.
    Step(StepMetrics),
    /// A validation pass finished.
    Validation {
        /// After this step.
        step: usize,
        /// Mean loss per trained token (SFT) or per pair (preference) on the validation set.
        loss: f64,
        /// A preference run's rewards on the held-out pairs.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        preference: Option<PreferenceStats>,
    },
    /// A checkpoint was written.
    Checkpoint {
        /// At this step.
        step: usize,
        /// Its folder.
        path: PathBuf,
    },
}

/// How a finished run ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainOutcome {
    /// The adapter's folder (the run's folder).
    pub adapter_dir: PathBuf,
    /// Steps taken in all.
    pub steps: usize,
    /// The last step's training loss.
    pub final_loss: Option<f64>,
    /// The last validation loss.
    pub final_validation_loss: Option<f64>,
    /// The validation loss before the first step (of this session).
    pub initial_validation_loss: Option<f64>,
    /// A preference run's held-out rewards before the first step (of this session).
    pub initial_preference: Option<PreferenceStats>,
    /// A preference run's held-out rewards at the end.
    pub final_preference: Option<PreferenceStats>,
}

/// Trains a LoRA adapter on `model` with `data` (examples for SFT, pairs for a preference
/// loss), reporting each event to `on_event`; `cancel` stops it at the next micro-batch with
/// a checkpoint of the last whole step. The model is left without an adapter; the adapter is
/// written to the run's folder.
pub fn train(
    model: &mut Model,
    dataset: &TrainingData,
    request: &TrainRequest,
    cancel: &CancelToken,
    on_event: &mut dyn FnMut(&TrainEvent),
) -> Result<TrainOutcome> {
    let _reuse = citrus_host::memory::ReuseFreedMemory::begin();
    let result = Run::prepare(model, dataset, request)
        .and_then(|mut run| run.execute(model, cancel, on_event));
    model.transformer_mut().clear_lora();
    result
}

/// Refuses to start a new run in `out_dir` when it already holds one (a checkpoint).
pub fn check_new_run_folder(out_dir: &std::path::Path) -> Result<()> {
    match checkpoint::latest(out_dir)? {
        Some((path, _)) => Err(occupied(out_dir, &path)),
        None => Ok(()),
    }
}

fn occupied(out_dir: &std::path::Path, checkpoint: &std::path::Path) -> TrainError {
    TrainError::RunConflict {
        path: out_dir.to_path_buf(),
        detail: format!(
            "already holds a training run (checkpoint {}): pass --resume to continue it, or choose another --out",
            checkpoint.display()
        ),
    }
}

/// A run in progress.
struct Run<'a> {
    request: &'a TrainRequest,
    dataset: &'a TrainingData,
    data: RunData,
    stream: DataStream,
    slots: LoraSlots,
    optimizer: AdamW,
    state: CheckpointState,
    log: MetricsLog,
    /// What each step's backward pass may keep of its forward ([`activation_budget`]), set by
    /// the pre-flight.
    activation_budget: u64,
    /// This process's claim on the run folder, held while the run lives.
    _claim: RunClaim,
}

impl<'a> Run<'a> {
    fn prepare(
        model: &mut Model,
        dataset: &'a TrainingData,
        request: &'a TrainRequest,
    ) -> Result<Self> {
        let config = &request.config;
        config.validate()?;
        check_base_mode(model, config)?;
        let mut data = RunData::new(dataset, model, config)?;
        let stream = data_stream(config, data.train_len());
        let identity = BaseIdentity::of(model);
        let fresh = CheckpointState {
            step: 0,
            total_steps: stream.total_steps(),
            config: config.clone(),
            dataset_hash: dataset.hash().to_string(),
            base_fingerprint: identity.fingerprint,
            template_hash: identity.template_hash,
            tokens_seen: 0,
            elapsed_seconds: 0.0,
        };
        let claim = RunClaim::take(&request.out_dir)?;
        let checkpoint = checkpoint::latest(&request.out_dir)?;
        let slots = LoraSlots::attach(model, &config.lora, config.seed)?;
        if let Some(path) = &config.start_adapter {
            slots.start_from(&LoraAdapter::load(path)?, model, path)?;
        }
        // The reference is the model as the run starts: before any checkpoint is restored.
        if let (RunData::Pairs(pairs), Some(settings)) = (&mut data, &config.preference) {
            if settings.method.needs_reference() {
                pairs.reference = Some(reference_logps(model, pairs, &request.out_dir)?);
            }
        }
        let mut optimizer = AdamW::new(slots.vars(), config.weight_decay)?;
        let state = match (checkpoint, request.resume) {
            (Some((path, _)), false) => return Err(occupied(&request.out_dir, &path)),
            (Some((path, saved)), true) => {
                check_same_run(&request.out_dir, &saved, &fresh)?;
                let tensors = checkpoint::read_tensors(&path, model.transformer().device())?;
                slots.restore(&tensors, &mut optimizer, saved.step)?;
                saved
            }
            (None, _) => fresh,
        };
        let log = MetricsLog::open(&request.out_dir, state.step)?;
        Ok(Self {
            request,
            dataset,
            data,
            stream,
            slots,
            optimizer,
            state,
            log,
            activation_budget: 0,
            _claim: claim,
        })
    }

    fn execute(
        &mut self,
        model: &mut Model,
        cancel: &CancelToken,
        on_event: &mut dyn FnMut(&TrainEvent),
    ) -> Result<TrainOutcome> {
        let preflight = self.preflight(model)?;
        on_event(&TrainEvent::Preflight(preflight.clone()));
        check_fits(&preflight)?;
        let total = self.state.total_steps;
        let (eval_every, checkpoint_every) = (
            interval(self.request.eval_every, total),
            interval(self.request.checkpoint_every, total),
        );
        on_event(&TrainEvent::Started {
            start_step: self.state.step,
            total_steps: total,
            train_examples: self.data.train_len(),
            validation_examples: self.data.validation_len(),
        });
        let initial = self.validate(model, on_event)?;
        let session_start = Instant::now();
        let first_step = self.state.step;
        let mut final_loss = None;
        let mut last = initial;
        while self.state.step < total {
            let step_start = Instant::now();
            let Some((outcome, grad_norm)) = self.step(model, cancel)? else {
                self.checkpoint(model, on_event)?;
                return Err(TrainError::Cancelled {
                    step: self.state.step,
                });
            };
            let (loss, tokens) = (outcome.loss, outcome.tokens);
            self.state.step += 1;
            self.state.tokens_seen += tokens;
            self.state.elapsed_seconds += step_start.elapsed().as_secs_f64();
            let done_here = self.state.step - first_step;
            let per_step = session_start.elapsed().as_secs_f64() / done_here as f64;
            let metrics = StepMetrics {
                step: self.state.step,
                total_steps: total,
                epoch: self.stream.epoch_after(self.state.step),
                loss,
                learning_rate: self.learning_rate(self.state.step - 1),
                grad_norm,
                tokens,
                tokens_per_second: tokens as f64 / step_start.elapsed().as_secs_f64().max(1e-9),
                elapsed_seconds: self.state.elapsed_seconds,
                eta_seconds: per_step * (total - self.state.step) as f64,
                preference: outcome.preference,
            };
            self.log.step(&metrics)?;
            on_event(&TrainEvent::Step(metrics));
            final_loss = Some(loss);
            if self.state.step.is_multiple_of(eval_every) || self.state.step == total {
                last = self.validate(model, on_event)?.or(last);
            }
            if self.state.step.is_multiple_of(checkpoint_every) || self.state.step == total {
                self.checkpoint(model, on_event)?;
            }
        }
        let final_validation_loss = last.map(|v| v.loss);
        let final_preference = last.and_then(|v| v.preference);
        let metrics = serde_json::json!({
            "steps": self.state.step,
            "method": self.request.config.preference.map_or(TrainMethod::Sft, |p| p.method.method()),
            "final_loss": final_loss,
            "final_validation_loss": final_validation_loss,
            "final_preference": final_preference,
            "tokens_seen": self.state.tokens_seen,
            "train_examples": self.data.train_len(),
            "validation_examples": self.data.validation_len(),
            "elapsed_seconds": self.state.elapsed_seconds,
        });
        self.adapter(model, metrics)?.save(&self.request.out_dir)?;
        Ok(TrainOutcome {
            adapter_dir: self.request.out_dir.clone(),
            steps: self.state.step,
            final_loss,
            final_validation_loss,
            initial_validation_loss: initial.map(|v| v.loss),
            initial_preference: initial.and_then(|v| v.preference),
            final_preference,
        })
    }

    fn learning_rate(&self, step: usize) -> f64 {
        let total = self.state.total_steps;
        let warmup = (total as f64 * self.request.config.warmup_ratio).ceil() as usize;
        learning_rate(self.request.config.learning_rate, step, warmup, total)
    }

    fn pass(&self, step: usize, micro: usize, record: usize) -> TrainingPass {
        let mut stream = vec![DROPOUT_STREAM, step as u64, micro as u64];
        // SFT keeps its streams as they were; each pair in a micro-batch gets its own.
        if record > 0 {
            stream.push(record as u64);
        }
        TrainingPass {
            lora_dropout: self.request.config.lora.dropout,
            seed: SeededRng::derive(self.request.config.seed, &stream).next_u64(),
            activation_budget: self.activation_budget,
        }
    }

    /// One optimizer step and its gradient norm; `None` when cancelled before it completed
    /// (nothing is applied).
    fn step(&mut self, model: &Model, cancel: &CancelToken) -> Result<Option<(StepLoss, f64)>> {
        let step = self.state.step;
        let micro_batches = self.stream.step_batches(step);
        let pass = |micro, record| self.pass(step, micro, record);
        let context = StepContext {
            transformer: model.transformer(),
            slots: &self.slots,
            cancel,
            pass: &pass,
        };
        let mut accumulated = Gradients::new();
        let outcome = match (&self.data, &self.request.config.preference) {
            (RunData::Pairs(pairs), Some(settings)) => {
                pair_gradients(pairs, settings, &micro_batches, &context, &mut accumulated)?
            }
            (RunData::Examples(examples), _) => {
                sft_gradients(examples, &micro_batches, &context, &mut accumulated)?
            }
            (RunData::Pairs(_), None) => unreachable!("RunData::new pairs pairs with a method"),
        };
        let Some(outcome) = outcome.filter(|_| !cancel.is_cancelled()) else {
            return Ok(None);
        };
        let mut grads = self.slots.dense(accumulated)?;
        let norm = clip_global_norm(&mut grads, self.request.config.max_grad_norm)?;
        self.optimizer.step(&grads, self.learning_rate(step))?;
        Ok(Some((outcome, norm)))
    }

    /// The validation loss (and a preference run's held-out rewards); `None` without a
    /// validation set.
    fn validate(
        &mut self,
        model: &Model,
        on_event: &mut dyn FnMut(&TrainEvent),
    ) -> Result<Option<Validated>> {
        let transformer = model.transformer();
        let validated = match (&self.data, &self.request.config.preference) {
            (RunData::Pairs(pairs), Some(settings)) => {
                pair_validation(pairs, settings, transformer)?.map(|(loss, stats)| Validated {
                    loss,
                    preference: Some(stats),
                })
            }
            (RunData::Examples(examples), _) => {
                sft_validation(examples, transformer, self.request.config.batch_size)?.map(|loss| {
                    Validated {
                        loss,
                        preference: None,
                    }
                })
            }
            (RunData::Pairs(_), None) => None,
        };
        let Some(validated) = validated else {
            return Ok(None);
        };
        self.log
            .validation(self.state.step, validated.loss, validated.preference)?;
        on_event(&TrainEvent::Validation {
            step: self.state.step,
            loss: validated.loss,
            preference: validated.preference,
        });
        Ok(Some(validated))
    }

    fn adapter(&self, model: &Model, metrics: serde_json::Value) -> Result<LoraAdapter> {
        let meta = AdapterMeta {
            base: BaseIdentity::of(model),
            dataset_source: Some(self.dataset.source().to_string()),
            dataset_hash: Some(self.dataset.hash().to_string()),
            training: Some(self.request.config.clone()),
            metrics,
            imported_from: None,
        };
        self.slots
            .adapter(model, &self.request.config.lora, Some(meta))
    }

    fn checkpoint(&mut self, model: &Model, on_event: &mut dyn FnMut(&TrainEvent)) -> Result<()> {
        let metrics = serde_json::json!({ "step": self.state.step });
        let adapter = self.adapter(model, metrics)?;
        let tensors = self.slots.checkpoint_tensors(&self.optimizer);
        let path = checkpoint::save(&self.request.out_dir, &self.state, &tensors, &adapter)?;
        on_event(&TrainEvent::Checkpoint {
            step: self.state.step,
            path,
        });
        Ok(())
    }

    /// The estimate, calibrated by forward and backward passes over the longest micro-batch.
    fn preflight(&mut self, model: &Model) -> Result<Preflight> {
        let config = &self.request.config;
        let longest = self.data.longest_batch(config.batch_size);
        let batch = Batch::new(&longest, model.transformer().device())?;
        let mut preflight = Preflight {
            remaining_steps: self.state.total_steps - self.state.step,
            ..estimate_for(
                model,
                config,
                &self.data,
                self.slots.parameters(),
                &longest,
                &batch,
            )
        };
        // Refuse before calibrating: the calibration itself could exhaust memory.
        check_fits(&preflight)?;
        self.activation_budget =
            activation_budget(preflight.available_bytes, preflight.needed_bytes());
        if self.request.calibration_steps > 0 {
            reset_peak();
            let mut seconds = f64::MAX;
            for _ in 0..self.request.calibration_steps {
                let start = Instant::now();
                let mut discarded = Gradients::new();
                batch.backward(
                    model.transformer(),
                    self.pass(0, 0, 0),
                    1.0,
                    &self.slots,
                    &mut discarded,
                )?;
                seconds = seconds.min(start.elapsed().as_secs_f64());
            }
            // A pair costs a no-graph forward and a backward for each answer: about
            // (1 + 3) / 3 of an SFT pass each.
            let passes = match self.data {
                RunData::Examples(_) => 1.0,
                RunData::Pairs(_) => 2.0 * 4.0 / 3.0,
            };
            let mean_tokens = self.data.stats().mean_tokens * config.batch_size as f64;
            let per_micro = passes * seconds * mean_tokens / batch.tokens.max(1) as f64;
            preflight.seconds_per_step = Some(per_micro * config.grad_accum as f64);
            preflight.measured_peak_bytes = peak_since_reset();
        }
        Ok(preflight)
    }
}

/// The pre-flight estimate of a new run of `config` on `data` with `model` as its base, before
/// anything is attached or calibrated (what the Training screen shows before Start).
pub fn estimate(model: &Model, data: &RunData, config: &TrainConfig) -> Result<Preflight> {
    let info = model.info();
    let lora_parameters: usize = config
        .lora
        .targets
        .iter()
        .map(|target| {
            let (out, inp) = target.shape(&info.config);
            config.lora.rank * (out + inp) * info.config.num_layers
        })
        .sum();
    let longest = data.longest_batch(config.batch_size);
    let batch = Batch::new(&longest, model.transformer().device())?;
    Ok(estimate_for(
        model,
        config,
        data,
        lora_parameters,
        &longest,
        &batch,
    ))
}

/// The uncalibrated estimate for a run with `lora_parameters` trainable values whose largest
/// micro-batch is `batch`, made of `longest`.
fn estimate_for(
    model: &Model,
    config: &TrainConfig,
    data: &RunData,
    lora_parameters: usize,
    longest: &[&TokenizedExample],
    batch: &Batch,
) -> Preflight {
    let info = model.info();
    let memory = estimate_memory(
        &info.config,
        quantized_bytes(model),
        config.quantized_base,
        lora_parameters,
        StepShape {
            batch: config.batch_size,
            tokens: longest.first().map_or(1, |e| e.ids.len()),
            trained_rows: batch.trained_tokens,
            score_matrices: !model.transformer().device().is_cpu(),
        },
    );
    let available = if model.transformer().device().is_cpu() {
        available_system_memory().map(|a| a + citrus_host::memory::resident_memory().unwrap_or(0))
    } else {
        None
    };
    let total_steps = data_stream(config, data.train_len()).total_steps();
    Preflight {
        memory,
        device: info.device.clone(),
        available_bytes: available,
        trainable_parameters: lora_parameters,
        total_steps,
        remaining_steps: total_steps,
        measured_peak_bytes: None,
        seconds_per_step: None,
    }
}

/// The order in which a run of `config` on `examples` training examples visits them.
fn data_stream(config: &TrainConfig, examples: usize) -> DataStream {
    let total_samples = match config.duration {
        Duration::Epochs(e) => e * examples,
        Duration::Steps(s) => s * config.sequences_per_step(),
    };
    DataStream::new(
        examples,
        config.seed,
        total_samples,
        config.batch_size,
        config.grad_accum,
    )
}

/// The reference log-probabilities of `pairs` under `model` as it starts, kept in the run's
/// folder so that a resumed run compares with the same values.
fn reference_logps(model: &Model, pairs: &PreparedPairs, dir: &Path) -> Result<ReferenceLogps> {
    let path = dir.join(REFERENCE_FILE);
    if let Ok(text) = std::fs::read_to_string(&path) {
        if let Ok(saved) = serde_json::from_str::<ReferenceLogps>(&text) {
            if saved.fits(pairs) {
                return Ok(saved);
            }
        }
    }
    let reference = steps::reference_logps(pairs, model.transformer())?;
    std::fs::create_dir_all(dir).map_err(|e| TrainError::io(dir, e))?;
    let text = serde_json::to_string(&reference).unwrap_or_default();
    std::fs::write(&path, text).map_err(|e| TrainError::io(&path, e))?;
    Ok(reference)
}

/// What a validation pass found.
#[derive(Debug, Clone, Copy)]
struct Validated {
    loss: f64,
    preference: Option<PreferenceStats>,
}

/// Steps between validations or checkpoints: `every`, or five times over the run.
fn interval(every: usize, total: usize) -> usize {
    if every > 0 {
        every
    } else {
        total.div_ceil(5).max(1)
    }
}

/// Bytes the base takes as loaded (quantized when the run keeps it so).
fn quantized_bytes(model: &Model) -> u64 {
    model.info().memory.weights_bytes
}

/// A dense-base run needs the base dequantized (see [`crate::load_options`]).
fn check_base_mode(model: &Model, config: &TrainConfig) -> Result<()> {
    let info = model.info();
    let dense = info.requantized_to.as_deref() == Some("F32")
        || (info.requantized_to.is_none()
            && matches!(info.quantization.as_str(), "F32" | "F16" | "BF16"));
    if !config.quantized_base && !dense {
        return Err(TrainError::setting(
            "quantized_base",
            format!(
                "the base is loaded as {}: a dense-base run needs it dequantized to f32 (load with re-quantization F32), or train with the quantized base",
                info.requantized_to.as_deref().unwrap_or(&info.quantization)
            ),
        ));
    }
    Ok(())
}

/// Refuses to resume when the request differs from the saved run, naming each difference.
fn check_same_run(dir: &Path, saved: &CheckpointState, now: &CheckpointState) -> Result<()> {
    let mut differences = saved.config.differences(&now.config);
    if saved.dataset_hash != now.dataset_hash {
        differences.push("the dataset's content changed".into());
    }
    if saved.base_fingerprint != now.base_fingerprint {
        differences.push("the base model is another file".into());
    }
    if saved.template_hash != now.template_hash {
        differences.push("the chat template changed".into());
    }
    if differences.is_empty() {
        return Ok(());
    }
    Err(TrainError::RunConflict {
        path: dir.to_path_buf(),
        detail: format!(
            "cannot resume: this request differs from the saved run ({}); resume with the same settings, or start a new run in another --out",
            differences.join("; ")
        ),
    })
}
