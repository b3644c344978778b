//! The trainable LoRA tensors: one `A`/`B` pair of variables per (layer, projection), attached
//! to the model's projections so the shared transformer computes with them.

use candle_core::backprop::GradStore;
use candle_core::{DType, Tensor, Var};
use citrus_engine::lora::{LoraDelta, LoraTarget};
use citrus_engine::model::Model;
use citrus_engine::seeded::SeededRng;
use citrus_engine::training_block::SegmentGrads;

use std::path::Path;

use crate::adapter::{AdapterMeta, BaseFacts, LoraAdapter};
use crate::checkpoint::TensorMap;
use crate::config::LoraSettings;
use crate::error::{Result, TrainError};
use crate::optim::AdamW;

/// Gradients being summed, one per variable (`None`: none yet).
pub type Gradients = Vec<Option<Tensor>>;

/// The random stream of the initialisation.
const INIT_STREAM: u64 = 0x1_A17;

struct Slot {
    layer: usize,
    target: LoraTarget,
    a: Var,
    b: Var,
}

impl Slot {
    fn key(&self) -> String {
        format!("{}.{}", self.layer, self.target.short_name())
    }
}

/// Every trainable LoRA pair of a run.
pub struct LoraSlots {
    slots: Vec<Slot>,
}

impl LoraSlots {
    /// Creates the pairs with PEFT's initialisation — `A` Kaiming-uniform (a = √5, i.e.
    /// U(±1/√in)), `B` zeros, so the adapted model starts equal to the base — and attaches them.
    pub fn attach(model: &mut Model, settings: &LoraSettings, seed: u64) -> Result<Self> {
        let layers = model.info().config.num_layers;
        let device = model.transformer().device().clone();
        let mut slots = Vec::new();
        for layer in 0..layers {
            for &target in &settings.targets {
                let linear = model
                    .transformer_mut()
                    .linear_mut(layer, target)
                    .ok_or_else(|| {
                        TrainError::setting("targets", format!("no {target:?} in layer {layer}"))
                    })?;
                let (inp, out) = (linear.in_features(), linear.out_features());
                let bound = 1.0 / (inp as f32).sqrt();
                let mut rng =
                    SeededRng::derive(seed, &[INIT_STREAM, layer as u64, target.index() as u64]);
                let values: Vec<f32> = (0..settings.rank * inp)
                    .map(|_| (rng.next_f32() * 2.0 - 1.0) * bound)
                    .collect();
                let a =
                    Var::from_tensor(&Tensor::from_vec(values, (settings.rank, inp), &device)?)?;
                let b = Var::zeros((out, settings.rank), DType::F32, &device)?;
                linear.set_lora(Some(LoraDelta {
                    a: a.as_tensor().clone(),
                    b: b.as_tensor().clone(),
                    scale: settings.scale(),
                }))?;
                slots.push(Slot {
                    layer,
                    target,
                    a,
                    b,
                });
            }
        }
        Ok(Self { slots })
    }

    /// Sets every pair to `adapter`'s values (a run that continues an adapter). Its rank,
    /// alpha and projections must be the run's: the adapter defines the run's shape.
    pub fn start_from(&self, adapter: &LoraAdapter, model: &Model, path: &Path) -> Result<()> {
        let config = &model.info().config;
        adapter.check_base(&BaseFacts::of_model(model))?;
        adapter.check_shapes(config)?;
        for slot in &self.slots {
            let Some((a, b)) = adapter.model_order_module(slot.layer, slot.target, config)? else {
                return Err(TrainError::adapter(
                    path,
                    format!(
                        "has no {} delta in layer {}: the run trains {}",
                        slot.target.hf_name(),
                        slot.layer,
                        slot.target.short_name()
                    ),
                ));
            };
            if a.dims() != slot.a.dims() || b.dims() != slot.b.dims() {
                return Err(TrainError::adapter(
                    path,
                    format!(
                        "its rank differs from the run's ({:?} against {:?} in layer {})",
                        a.dims(),
                        slot.a.dims(),
                        slot.layer
                    ),
                ));
            }
            let device = slot.a.device();
            slot.a.set(&a.to_device(device)?)?;
            slot.b.set(&b.to_device(device)?)?;
        }
        Ok(())
    }

    /// The variables, `A` then `B` for each pair, in a fixed order.
    pub fn vars(&self) -> Vec<Var> {
        self.iter_vars().cloned().collect()
    }

    fn iter_vars(&self) -> impl Iterator<Item = &Var> {
        self.slots.iter().flat_map(|s| [&s.a, &s.b])
    }

    /// Number of trainable parameters.
    pub fn parameters(&self) -> usize {
        self.vars().iter().map(|v| v.elem_count()).sum()
    }

    /// The gradient of each variable in `grads` (zeros where none reached it).
    pub fn gradients(&self, grads: &GradStore) -> Result<Vec<Tensor>> {
        self.vars()
            .iter()
            .map(|v| match grads.get(v.as_tensor()) {
                Some(g) => Ok(g.clone()),
                None => Ok(v.as_tensor().zeros_like()?),
            })
            .collect()
    }

    /// Adds the gradients `store` holds for the variables into `grads` (one entry per
    /// variable, in [`LoraSlots::vars`] order; empty to start).
    pub fn accumulate(
        &self,
        store: &SegmentGrads,
        grads: &mut Gradients,
    ) -> candle_core::Result<()> {
        grads.resize(self.slots.len() * 2, None);
        for (sum, var) in grads.iter_mut().zip(self.iter_vars()) {
            if let Some(g) = store.get(var.as_tensor()) {
                *sum = Some(match sum.take() {
                    Some(total) => (total + g)?,
                    None => g.clone(),
                });
            }
        }
        Ok(())
    }

    /// The accumulated gradients with zeros where none arrived.
    pub fn dense(&self, grads: Gradients) -> Result<Vec<Tensor>> {
        let mut grads = grads;
        let vars = self.vars();
        grads.resize(vars.len(), None);
        grads
            .into_iter()
            .zip(&vars)
            .map(|(g, v)| match g {
                Some(g) => Ok(g),
                None => Ok(v.as_tensor().zeros_like()?),
            })
            .collect()
    }

    /// The names of the variables, as the checkpoint stores them.
    fn names(&self) -> Vec<String> {
        self.slots
            .iter()
            .flat_map(|s| [format!("{}.a", s.key()), format!("{}.b", s.key())])
            .collect()
    }

    /// Values and AdamW moments, named, for a checkpoint.
    pub fn checkpoint_tensors(&self, optimizer: &AdamW) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        for (i, (name, var)) in self.names().into_iter().zip(self.vars()).enumerate() {
            out.push((format!("{name}.m"), optimizer.first[i].clone()));
            out.push((format!("{name}.v"), optimizer.second[i].clone()));
            out.push((name, var.as_tensor().clone()));
        }
        out
    }

    /// Restores values and moments from a checkpoint.
    pub fn restore(&self, tensors: &TensorMap, optimizer: &mut AdamW, steps: usize) -> Result<()> {
        for (i, (name, var)) in self.names().into_iter().zip(self.vars()).enumerate() {
            let get = |key: &str| {
                tensors.get(key).ok_or_else(|| TrainError::BadCheckpoint {
                    path: key.into(),
                    detail: format!("tensor `{key}` is missing"),
                })
            };
            var.set(get(&name)?)?;
            optimizer.first[i] = get(&format!("{name}.m"))?.clone();
            optimizer.second[i] = get(&format!("{name}.v"))?.clone();
        }
        optimizer.steps = steps;
        Ok(())
    }

    /// The adapter as of now (rows converted to Hugging Face order).
    pub fn adapter(
        &self,
        model: &Model,
        settings: &LoraSettings,
        meta: Option<AdapterMeta>,
    ) -> Result<LoraAdapter> {
        let deltas = self
            .slots
            .iter()
            .map(|s| {
                (
                    s.layer,
                    s.target,
                    s.a.as_tensor().copy(),
                    s.b.as_tensor().copy(),
                )
            })
            .map(|(l, t, a, b)| Ok((l, t, a?, b?)))
            .collect::<Result<Vec<_>>>()?;
        LoraAdapter::from_model_order(settings.clone(), deltas, &model.info().config, meta)
    }
}
