//! The key/value cache of one attention layer: preallocated buffers written in place.
//!
//! Appending a token writes its keys and values into the next free position (`slice_set`)
//! instead of concatenating a new cache each step, and attention reads a view of the filled
//! positions, so decoding at depth `n` copies nothing of the `n` cached positions. The buffers
//! grow in steps of [`GROWTH_STEP`] positions up to the context the model was loaded for, so
//! memory follows the context actually used.

use candle_core::{Result, Tensor};

/// Positions added when the buffers are full.
pub const GROWTH_STEP: usize = 512;

/// Keys and values `(batch, kv_heads, capacity, head_dim)`, the first `len` positions filled.
#[derive(Debug, Clone)]
pub struct KvCache {
    buffers: Option<(Tensor, Tensor)>,
    len: usize,
    limit: usize,
}

impl KvCache {
    /// An empty cache that holds at most `limit` positions.
    pub fn new(limit: usize) -> Self {
        Self {
            buffers: None,
            len: 0,
            limit,
        }
    }

    /// Positions held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no position is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Positions the buffers can hold before growing.
    pub fn capacity(&self) -> usize {
        self.buffers
            .as_ref()
            .map_or(0, |(k, _)| k.dims().get(2).copied().unwrap_or(0))
    }

    /// The whole buffers `(batch, kv_heads, capacity, head_dim)`, once allocated.
    pub fn buffers(&self) -> Option<(&Tensor, &Tensor)> {
        self.buffers.as_ref().map(|(k, v)| (k, v))
    }

    /// Keeps the first `len` positions (the buffers stay allocated).
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Writes `k`/`v` `(batch, kv_heads, t, head_dim)` at position `start` (dropping what was
    /// held after it) and returns views of all positions up to `start + t`.
    pub fn append(&mut self, start: usize, k: &Tensor, v: &Tensor) -> Result<(Tensor, Tensor)> {
        self.truncate(start);
        if self.len != start {
            candle_core::bail!("kv cache holds {} positions, not {start}", self.len);
        }
        let end = start + k.dim(2)?;
        if end > self.limit {
            candle_core::bail!("kv cache limit of {} positions exceeded", self.limit);
        }
        if end > self.capacity() {
            self.grow(end, k)?;
        }
        let (k_all, v_all) = self.buffers.as_ref().expect("grown to fit");
        k_all.slice_set(&k.contiguous()?, 2, start)?;
        v_all.slice_set(&v.contiguous()?, 2, start)?;
        self.len = end;
        Ok((k_all.narrow(2, 0, end)?, v_all.narrow(2, 0, end)?))
    }

    /// Reallocates the buffers for at least `needed` positions, keeping the held ones.
    fn grow(&mut self, needed: usize, like: &Tensor) -> Result<()> {
        let capacity = needed.next_multiple_of(GROWTH_STEP).min(self.limit);
        let (b, heads, _, dim) = like.dims4()?;
        let empty = || Tensor::zeros((b, heads, capacity, dim), like.dtype(), like.device());
        let (k_new, v_new) = (empty()?, empty()?);
        if let Some((k_old, v_old)) = &self.buffers {
            if self.len > 0 {
                k_new.slice_set(&k_old.narrow(2, 0, self.len)?.contiguous()?, 2, 0)?;
                v_new.slice_set(&v_old.narrow(2, 0, self.len)?.contiguous()?, 2, 0)?;
            }
        }
        self.buffers = Some((k_new, v_new));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{DType, Device};

    use super::*;

    fn positions(values: &[f32]) -> Tensor {
        let t = values.len();
        Tensor::from_vec(values.to_vec(), (1, 1, t, 1), &Device::Cpu).unwrap()
    }

    fn held(view: &Tensor) -> Vec<f32> {
        view.flatten_all().unwrap().to_vec1::<f32>().unwrap()
    }

    #[test]
    fn appends_in_place_grows_in_steps_and_truncates() {
        let mut cache = KvCache::new(1000);
        let (k, _) = cache
            .append(0, &positions(&[1.0, 2.0]), &positions(&[1.0, 2.0]))
            .unwrap();
        assert_eq!(held(&k), [1.0, 2.0]);
        assert_eq!(cache.capacity(), GROWTH_STEP);
        let (k, v) = cache
            .append(2, &positions(&[3.0]), &positions(&[4.0]))
            .unwrap();
        assert_eq!(held(&k), [1.0, 2.0, 3.0]);
        assert_eq!(held(&v), [1.0, 2.0, 4.0]);
        // Reusing a prefix overwrites what followed it.
        let (k, _) = cache
            .append(1, &positions(&[9.0]), &positions(&[9.0]))
            .unwrap();
        assert_eq!(held(&k), [1.0, 9.0]);
        // Growing keeps the held positions; the limit caps the capacity.
        let long = vec![5.0; 600];
        let (k, _) = cache
            .append(2, &positions(&long), &positions(&long))
            .unwrap();
        assert_eq!(k.dim(2).unwrap(), 602);
        assert_eq!(cache.capacity(), 1000);
        assert_eq!(&held(&k)[..3], [1.0, 9.0, 5.0]);
        cache.truncate(0);
        assert!(cache.is_empty());
    }

    #[test]
    fn a_gap_or_an_overflow_is_an_error() {
        let mut cache = KvCache::new(4);
        let one = Tensor::zeros((1, 1, 1, 1), DType::F32, &Device::Cpu).unwrap();
        assert!(cache.append(1, &one, &one).is_err());
        let five = Tensor::zeros((1, 1, 5, 1), DType::F32, &Device::Cpu).unwrap();
        assert!(cache.append(0, &five, &five).is_err());
    }
}
