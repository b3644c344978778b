//! The data stream and its batches: which examples each micro-batch of each step holds, as
//! padded id tensors with the rows and targets of the trained positions; and the loss.

use candle_core::{Device, Tensor};
use citrus_engine::seeded::SeededRng;
use citrus_engine::transformer::{nll_sum, TrainingPass, Transformer};

use super::slots::{Gradients, LoraSlots};

use crate::dataset::TokenizedExample;
use crate::error::Result;

/// The random stream of the data order (distinct from the split and initialisation).
const ORDER_STREAM: u64 = 0x0_0D3;

/// Which example each position of the stream holds: epoch after epoch, each a seeded
/// permutation of the training set, so any step's batches are known without replaying.
#[derive(Debug, Clone)]
pub struct DataStream {
    examples: usize,
    seed: u64,
    /// Samples the whole run consumes.
    pub total_samples: usize,
    batch_size: usize,
    grad_accum: usize,
}

impl DataStream {
    /// A stream over `examples` examples.
    pub fn new(
        examples: usize,
        seed: u64,
        total_samples: usize,
        batch_size: usize,
        grad_accum: usize,
    ) -> Self {
        Self {
            examples,
            seed,
            total_samples,
            batch_size,
            grad_accum,
        }
    }

    /// Optimizer steps the stream makes.
    pub fn total_steps(&self) -> usize {
        self.total_samples
            .div_ceil(self.batch_size * self.grad_accum)
    }

    fn example_at(&self, sample: usize) -> usize {
        let epoch = sample / self.examples;
        let mut order: Vec<usize> = (0..self.examples).collect();
        SeededRng::derive(self.seed, &[ORDER_STREAM, epoch as u64]).shuffle(&mut order);
        order[sample % self.examples]
    }

    /// The example indices of each micro-batch of `step` (the last step may hold fewer).
    pub fn step_batches(&self, step: usize) -> Vec<Vec<usize>> {
        (0..self.grad_accum)
            .map(|micro| {
                let start = (step * self.grad_accum + micro) * self.batch_size;
                let end = (start + self.batch_size).min(self.total_samples);
                (start..end).map(|s| self.example_at(s)).collect()
            })
            .filter(|batch: &Vec<usize>| !batch.is_empty())
            .collect()
    }

    /// The epoch (fractional) reached after `step` steps.
    pub fn epoch_after(&self, step: usize) -> f64 {
        let samples = (step * self.batch_size * self.grad_accum).min(self.total_samples);
        samples as f64 / self.examples as f64
    }
}

/// A micro-batch as tensors.
pub struct Batch {
    /// Ids `(b, t)`, right-padded.
    pub ids: Tensor,
    /// Flattened positions whose next token is trained.
    pub rows: Tensor,
    /// The trained next tokens, one per row.
    pub targets: Tensor,
    /// Trained tokens (rows).
    pub trained_tokens: usize,
    /// Real (non-pad) tokens.
    pub tokens: usize,
}

impl Batch {
    /// Pads `examples` to the longest and collects the trained positions.
    pub fn new(examples: &[&TokenizedExample], device: &Device) -> Result<Self> {
        let width = examples.iter().map(|e| e.ids.len()).max().unwrap_or(1);
        let mut ids = Vec::with_capacity(examples.len() * width);
        let mut rows = Vec::new();
        let mut targets = Vec::new();
        for (b, example) in examples.iter().enumerate() {
            for p in 0..width {
                ids.push(example.ids.get(p).copied().unwrap_or(0));
                if p + 1 < example.ids.len() && example.trained[p + 1] {
                    rows.push((b * width + p) as u32);
                    targets.push(example.ids[p + 1]);
                }
            }
        }
        let trained_tokens = rows.len();
        Ok(Self {
            ids: Tensor::from_vec(ids, (examples.len(), width), device)?,
            rows: Tensor::from_vec(rows, trained_tokens, device)?,
            targets: Tensor::from_vec(targets, trained_tokens, device)?,
            trained_tokens,
            tokens: examples.iter().map(|e| e.ids.len()).sum(),
        })
    }

    /// The summed negative log-likelihood of the trained tokens, as one graph over the whole
    /// model (for validation, and to check [`Batch::backward`] against).
    pub fn nll_sum(&self, transformer: &Transformer, pass: TrainingPass) -> Result<Tensor> {
        let logits = transformer.forward_train(&self.ids, &self.rows, pass)?;
        Ok(nll_sum(&logits, &self.targets)?)
    }

    /// The summed negative log-likelihood, with the LoRA gradients of `scale` times it added
    /// into `grads` (activation checkpointing: see [`Transformer::nll_backward`]).
    pub fn backward(
        &self,
        transformer: &Transformer,
        pass: TrainingPass,
        scale: f64,
        slots: &LoraSlots,
        grads: &mut Gradients,
    ) -> Result<f64> {
        let loss = transformer.nll_backward(
            &self.ids,
            &self.rows,
            &self.targets,
            scale,
            pass,
            &mut |store| slots.accumulate(store, grads),
        )?;
        Ok(loss as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_covers_each_epoch_once_and_resumes_anywhere() {
        let stream = DataStream::new(5, 3, 10, 2, 2);
        assert_eq!(stream.total_steps(), 3);
        let all: Vec<usize> = (0..3)
            .flat_map(|s| stream.step_batches(s))
            .flatten()
            .collect();
        assert_eq!(all.len(), 10);
        let mut first: Vec<usize> = all[..5].to_vec();
        first.sort();
        assert_eq!(first, vec![0, 1, 2, 3, 4]);
        assert_ne!(all[..5], all[5..]);
        assert_eq!(stream.step_batches(2), vec![vec![all[8], all[9]]]);
        assert_eq!(stream.epoch_after(3), 2.0);
    }

    #[test]
    fn batches_pad_right_and_keep_trained_rows() {
        let a = TokenizedExample {
            line: 1,
            ids: vec![5, 6, 7],
            trained: vec![false, false, true],
            truncated: false,
        };
        let b = TokenizedExample {
            line: 2,
            ids: vec![8, 9],
            trained: vec![false, true],
            truncated: false,
        };
        let batch = Batch::new(&[&a, &b], &Device::Cpu).unwrap();
        assert_eq!(
            batch.ids.to_vec2::<u32>().unwrap(),
            vec![vec![5, 6, 7], vec![8, 9, 0]]
        );
        assert_eq!(batch.rows.to_vec1::<u32>().unwrap(), vec![1, 3]);
        assert_eq!(batch.targets.to_vec1::<u32>().unwrap(), vec![7, 9]);
        assert_eq!((batch.trained_tokens, batch.tokens), (2, 5));
    }
}
