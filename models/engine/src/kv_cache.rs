//! The key/value cache of one attention layer: preallocated buffers written in place.
//!
//! Appending a token writes its keys and values into the next free position (`slice_set`)
//! instead of concatenating a new cache each step, and attention reads a view of the filled
//! positions, so decoding at depth `n` copies nothing of the `n` cached positions. The buffers
//! are sized once, at the first append, to the context the model was loaded for. On the CPU
//! they are allocated zeroed by the operating system, page by page on first write, so resident
//! memory follows the positions actually used, with no reallocation and no copy as the
//! sequence grows.

use candle_core::{DType, Result, Tensor};

/// Keys and values `(batch, kv_heads, capacity, head_dim)`, the first `len` positions filled.
#[derive(Debug, Clone)]
pub struct KvCache {
    buffers: Option<(Tensor, Tensor)>,
    len: usize,
    limit: usize,
    dtype: DType,
}

impl KvCache {
    /// An empty cache that holds at most `limit` positions of type `dtype`.
    pub fn new(limit: usize, dtype: DType) -> Self {
        Self {
            buffers: None,
            len: 0,
            limit,
            dtype,
        }
    }

    /// The type keys and values are stored as (appended ones are converted).
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// The same cache, empty, storing `dtype`.
    pub fn emptied_as(&self, dtype: DType) -> Self {
        Self::new(self.limit, dtype)
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
    /// held after it), as the cache's type, and returns views of all positions up to
    /// `start + t`.
    pub fn append(&mut self, start: usize, k: &Tensor, v: &Tensor) -> Result<(Tensor, Tensor)> {
        self.truncate(start);
        if self.len != start {
            candle_core::bail!("kv cache holds {} positions, not {start}", self.len);
        }
        let end = start + k.dim(2)?;
        if end > self.limit {
            candle_core::bail!("kv cache limit of {} positions exceeded", self.limit);
        }
        if self.buffers.is_none() {
            self.allocate(k)?;
        }
        let (k_all, v_all) = self.buffers.as_ref().expect("grown to fit");
        k_all.slice_set(&k.to_dtype(self.dtype)?.contiguous()?, 2, start)?;
        v_all.slice_set(&v.to_dtype(self.dtype)?.contiguous()?, 2, start)?;
        self.len = end;
        Ok((k_all.narrow(2, 0, end)?, v_all.narrow(2, 0, end)?))
    }

    /// Allocates the buffers for `limit` positions, shaped like `like` otherwise.
    fn allocate(&mut self, like: &Tensor) -> Result<()> {
        let (b, heads, _, dim) = like.dims4()?;
        let shape = (b, heads, self.limit, dim);
        let empty = || match (like.device().is_cpu(), self.dtype) {
            // `vec![0f32; n]` asks the allocator for zeroed memory, mapped on first write
            // (`Tensor::zeros` would write every zero).
            (true, DType::F32) => Tensor::from_vec(
                vec![0f32; b * heads * self.limit * dim],
                shape,
                like.device(),
            ),
            _ => Tensor::zeros(shape, self.dtype, like.device()),
        };
        self.buffers = Some((empty()?, empty()?));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use candle_core::Device;

    use super::*;

    fn positions(values: &[f32]) -> Tensor {
        let t = values.len();
        Tensor::from_vec(values.to_vec(), (1, 1, t, 1), &Device::Cpu).unwrap()
    }

    fn held(view: &Tensor) -> Vec<f32> {
        view.flatten_all().unwrap().to_vec1::<f32>().unwrap()
    }

    #[test]
    fn appends_in_place_and_truncates() {
        let mut cache = KvCache::new(1000, DType::F32);
        let (k, _) = cache
            .append(0, &positions(&[1.0, 2.0]), &positions(&[1.0, 2.0]))
            .unwrap();
        assert_eq!(held(&k), [1.0, 2.0]);
        assert_eq!(cache.capacity(), 1000);
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
        let mut cache = KvCache::new(4, DType::F32);
        let one = Tensor::zeros((1, 1, 1, 1), DType::F32, &Device::Cpu).unwrap();
        assert!(cache.append(1, &one, &one).is_err());
        let five = Tensor::zeros((1, 1, 5, 1), DType::F32, &Device::Cpu).unwrap();
        assert!(cache.append(0, &five, &five).is_err());
    }
}
