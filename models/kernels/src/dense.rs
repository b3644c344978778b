//! Dense f32 matrix products: `gemm`'s kernels on strided views, one thread per call
//! (`product`, for tasks that are already parallel) or split over the kernels' pool
//! ([`matmul`], for the training pass's projections).
//!
//! Running the projections on the same pool as the attention and the element-wise passes keeps
//! one set of threads busy: two pools (this one and rayon's, which candle's matmul uses) take
//! turns spinning on a two-core machine.

use gemm::Parallelism;

use crate::pool::Pool;
use crate::OutPtr;

/// A strided matrix view: element `(r, c)` at `ptr + r·rs + c·cs`.
#[derive(Clone, Copy)]
pub(crate) struct View {
    ptr: *const f32,
    rs: isize,
    cs: isize,
}

// SAFETY: a view only reads, and the buffers it reads outlive the products that use it.
unsafe impl Send for View {}
unsafe impl Sync for View {}

impl View {
    /// The view starting at element `(row, col)`.
    ///
    /// # Safety
    /// The element is inside the viewed buffer.
    unsafe fn at(self, row: usize, col: usize) -> Self {
        Self {
            ptr: self
                .ptr
                .offset(row as isize * self.rs + col as isize * self.cs),
            ..self
        }
    }
}

/// The rows of a row-major matrix `data` of row length `width`.
pub(crate) fn rows_of(data: &[f32], width: usize) -> View {
    rows_with(data, width)
}

/// Rows `stride` apart, columns adjacent.
pub(crate) fn rows_with(data: &[f32], stride: usize) -> View {
    View {
        ptr: data.as_ptr(),
        rs: stride as isize,
        cs: 1,
    }
}

/// The transpose of a row-major matrix `data` of row length `width`.
pub(crate) fn cols_of(data: &[f32], width: usize) -> View {
    View {
        ptr: data.as_ptr(),
        rs: 1,
        cs: width as isize,
    }
}

/// `dst` (`m × n`, rows `dst_stride` apart) `= [dst +] factor · lhs (m × k) · rhs (k × n)`.
///
/// # Safety
/// The views address `m × k` and `k × n` elements inside live buffers, and `dst` holds the
/// `m × n` block.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn product(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    dst_stride: usize,
    accumulate: bool,
    lhs: View,
    rhs: View,
    factor: f32,
) {
    debug_assert!(m == 0 || n == 0 || dst.len() >= (m - 1) * dst_stride + n);
    product_raw(
        m,
        n,
        k,
        dst.as_mut_ptr(),
        dst_stride,
        accumulate,
        lhs,
        rhs,
        factor,
    )
}

/// [`product`] into a raw destination (a block of a buffer other tasks write elsewhere in).
///
/// # Safety
/// As [`product`]; no one else writes the `m × n` block at `dst` meanwhile.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn product_raw(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut f32,
    dst_stride: usize,
    accumulate: bool,
    lhs: View,
    rhs: View,
    factor: f32,
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for r in 0..m {
                std::slice::from_raw_parts_mut(dst.add(r * dst_stride), n).fill(0.0);
            }
        }
        return;
    }
    gemm::gemm(
        m,
        n,
        k,
        dst,
        1,
        dst_stride as isize,
        accumulate,
        lhs.ptr,
        lhs.cs,
        lhs.rs,
        rhs.ptr,
        rhs.cs,
        rhs.rs,
        1.0,
        factor,
        false,
        false,
        false,
        Parallelism::None,
    )
}

/// One operand of [`matmul`]: a row-major buffer (rows of `width` values), read as stored or
/// transposed.
#[derive(Debug, Clone, Copy)]
pub enum Operand<'a> {
    /// The matrix as stored: `data.len() / width` rows of `width` columns.
    Rows {
        /// The values, row-major.
        data: &'a [f32],
        /// Values per row.
        width: usize,
    },
    /// The transpose of the stored matrix: `width` rows of `data.len() / width` columns.
    Transposed {
        /// The values, row-major.
        data: &'a [f32],
        /// Values per stored row.
        width: usize,
    },
}

impl Operand<'_> {
    /// `(rows, cols)` as read.
    fn dims(&self) -> (usize, usize) {
        match *self {
            Self::Rows { data, width } => (data.len() / width.max(1), width),
            Self::Transposed { data, width } => (width, data.len() / width.max(1)),
        }
    }

    fn view(&self) -> View {
        match *self {
            Self::Rows { data, width } => rows_of(data, width),
            Self::Transposed { data, width } => cols_of(data, width),
        }
    }
}

/// Columns (or rows) per task below which a product is not split.
const MIN_SPLIT: usize = 64;

/// `dst` (`m × n`, row-major) `= [dst +] factor · lhs · rhs`, with `lhs` read as `m × k` and
/// `rhs` as `k × n` (each may hold more rows than read). Split over the kernels' pool by
/// columns of the output (each task packs its own share of `rhs`), or by rows where the output
/// is narrow; every element is one task's sum over the whole `k`, so the split does not change
/// the values.
///
/// # Panics
/// When an operand is smaller than `m × k` / `k × n` or `dst` than `m × n` (a caller's bug).
#[allow(clippy::too_many_arguments)]
pub fn matmul(
    dst: &mut [f32],
    (m, n, k): (usize, usize, usize),
    lhs: Operand<'_>,
    rhs: Operand<'_>,
    accumulate: bool,
    factor: f32,
) {
    let ((lr, lc), (rr, rc)) = (lhs.dims(), rhs.dims());
    assert!(
        lr >= m && lc == k && rr >= k && rc == n && dst.len() >= m * n,
        "matmul: {m}×{k} · {k}×{n} does not fit {lr}×{lc} · {rr}×{rc} into {}",
        dst.len()
    );
    let (lhs, rhs) = (lhs.view(), rhs.view());
    let threads = Pool::global().threads();
    let out = OutPtr(dst.as_mut_ptr());
    if threads > 1 && n >= 2 * MIN_SPLIT {
        let chunk = n.div_ceil(threads).next_multiple_of(16);
        let tasks = n.div_ceil(chunk);
        Pool::global().run(tasks, &|task| {
            let (from, to) = (task * chunk, ((task + 1) * chunk).min(n));
            // SAFETY: the task writes columns `from..to` of `dst` alone; the views stay inside
            // their operands (checked above).
            unsafe {
                product_raw(
                    m,
                    to - from,
                    k,
                    out.at(from),
                    n,
                    accumulate,
                    lhs,
                    rhs.at(0, from),
                    factor,
                )
            }
        });
    } else if threads > 1 && m >= 2 * MIN_SPLIT {
        let chunk = m.div_ceil(threads);
        let tasks = m.div_ceil(chunk);
        Pool::global().run(tasks, &|task| {
            let (from, to) = (task * chunk, ((task + 1) * chunk).min(m));
            // SAFETY: the task writes rows `from..to` of `dst` alone.
            unsafe {
                product_raw(
                    to - from,
                    n,
                    k,
                    out.at(from * n),
                    n,
                    accumulate,
                    lhs.at(from, 0),
                    rhs,
                    factor,
                )
            }
        });
    } else {
        // SAFETY: as above, one task.
        unsafe { product_raw(m, n, k, out.at(0), n, accumulate, lhs, rhs, factor) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(n: usize, seed: usize) -> Vec<f32> {
        (0..n)
            .map(|i| ((i * 37 + seed * 11) % 101) as f32 / 50.0 - 1.0)
            .collect()
    }

    fn naive(
        a: impl Fn(usize, usize) -> f32,
        b: impl Fn(usize, usize) -> f32,
        m: usize,
        n: usize,
        k: usize,
    ) -> Vec<f32> {
        let mut out = vec![0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                out[i * n + j] = (0..k).map(|p| a(i, p) * b(p, j)).sum();
            }
        }
        out
    }

    /// Every layout pair, split by columns, by rows and not at all, against a plain triple loop.
    #[test]
    fn products_of_every_layout_match_the_definition() {
        for (m, n, k) in [(300, 40, 24), (20, 290, 33), (5, 7, 3), (130, 130, 1)] {
            let (a, b) = (ramp(m * k, 1), ramp(k * n, 2));
            let a_t: Vec<f32> = (0..k * m).map(|i| a[(i % m) * k + i / m]).collect();
            let b_t: Vec<f32> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect();
            let want = naive(|i, p| a[i * k + p], |p, j| b[p * n + j], m, n, k);
            let lhs = [
                Operand::Rows { data: &a, width: k },
                Operand::Transposed {
                    data: &a_t,
                    width: m,
                },
            ];
            let rhs = [
                Operand::Rows { data: &b, width: n },
                Operand::Transposed {
                    data: &b_t,
                    width: k,
                },
            ];
            for l in lhs {
                for r in rhs {
                    let mut got = vec![1f32; m * n];
                    matmul(&mut got, (m, n, k), l, r, true, 0.5);
                    for (g, w) in got.iter().zip(&want) {
                        assert!(
                            (g - (1.0 + 0.5 * w)).abs() < 1e-4,
                            "{m}×{n}×{k}: {g} vs {w}"
                        );
                    }
                    matmul(&mut got, (m, n, k), l, r, false, 1.0);
                    for (g, w) in got.iter().zip(&want) {
                        assert!((g - w).abs() < 1e-4, "{m}×{n}×{k}: {g} vs {w}");
                    }
                }
            }
        }
    }
}
