//! Borrowed views of CPU tensors' values, for the project's own kernels.

use candle_core::{bail, CpuStorage, Layout, Storage, Tensor, WithDType};

/// The values of a contiguous CPU tensor of element type `T`, borrowed from its storage.
pub(crate) fn cpu_slice<T: WithDType>(t: &Tensor) -> candle_core::Result<CpuSlice<'_, T>> {
    let (storage, layout) = t.storage_and_layout();
    let range = layout.start_offset()..layout.start_offset() + t.elem_count();
    match &*storage {
        Storage::Cpu(cpu) if t.is_contiguous() && cpu.as_slice::<T>().is_ok() => Ok(CpuSlice {
            storage,
            range,
            element: std::marker::PhantomData,
        }),
        _ => candle_core::bail!(
            "expected a contiguous {:?} CPU tensor, got {:?}",
            T::DTYPE,
            t.dtype()
        ),
    }
}

/// A borrowed run of a CPU tensor's storage.
pub(crate) struct CpuSlice<'a, T> {
    storage: candle_core::StorageRef<'a>,
    range: std::ops::Range<usize>,
    element: std::marker::PhantomData<T>,
}

impl<T: WithDType> std::ops::Deref for CpuSlice<'_, T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        match &*self.storage {
            Storage::Cpu(cpu) => {
                &cpu.as_slice::<T>().expect("checked in cpu_slice")[self.range.clone()]
            }
            _ => unreachable!("checked in cpu_slice"),
        }
    }
}

/// The f32 values of a contiguous CPU storage (a custom op's input).
pub(crate) fn storage_values<'a>(
    storage: &'a CpuStorage,
    layout: &Layout,
) -> candle_core::Result<&'a [f32]> {
    match (storage, layout.contiguous_offsets()) {
        (CpuStorage::F32(data), Some((from, to))) => Ok(&data[from..to]),
        _ => bail!("expected contiguous f32 values"),
    }
}
