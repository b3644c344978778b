//! Rotary position embedding between the projections' layout `(t, heads · head_dim)` and the
//! attention's `(heads, t, head_dim)`, in one pass that rotates and transposes.
//!
//! Position `p`'s pair `(a, b)` of a head becomes `(a·cos − b·sin, a·sin + b·cos)` with the
//! tables' row `p`: in the rotate-half layout the pair is `(i, i + head_dim/2)`, in the
//! interleaved (GPT-J) one `(2i, 2i + 1)`, as candle's `rope` and `rope_i` pair them. The
//! rotation is orthogonal, so its gradient is the rotation by `−sin`.

use crate::pool::Pool;
use crate::OutPtr;

/// The angles of positions `0..t`: `cos` and `sin`, `(t, head_dim / 2)` each, and the pairing.
#[derive(Debug, Clone, Copy)]
pub struct Rotation<'a> {
    /// `cos` of each position's angles.
    pub cos: &'a [f32],
    /// `sin` of each position's angles (`−sin` for the gradient).
    pub sin: &'a [f32],
    /// GPT-J's pairing of adjacent values instead of the two halves.
    pub interleaved: bool,
}

/// The shape of one sequence's heads.
#[derive(Debug, Clone, Copy)]
pub struct Heads {
    /// Heads.
    pub heads: usize,
    /// Positions.
    pub t: usize,
    /// Values per head.
    pub head_dim: usize,
}

/// Which way [`rotate`] moves the values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Direction {
    /// From `(t, heads · head_dim)` to `(heads, t, head_dim)`.
    IntoHeads,
    /// From `(heads, t, head_dim)` to `(t, heads · head_dim)`.
    FromHeads,
}

/// Rotates (when `rotation` is given; otherwise only transposes) one sequence's heads from
/// `src` into `dst`, in `direction`.
///
/// # Panics
/// When the lengths do not fit the shape (a caller's bug).
pub fn rotate(
    src: &[f32],
    dst: &mut [f32],
    shape: Heads,
    rotation: Option<Rotation<'_>>,
    direction: Direction,
) {
    let Heads { heads, t, head_dim } = shape;
    let half = head_dim / 2;
    assert!(src.len() == heads * t * head_dim && dst.len() == src.len());
    if let Some(r) = rotation {
        assert!(head_dim % 2 == 0 && r.cos.len() >= t * half && r.sin.len() >= t * half);
    }
    // Offsets of position p of head h in the two layouts.
    let rows = |h: usize, p: usize| (p * heads * head_dim + h * head_dim, (h * t + p) * head_dim);
    let target = OutPtr(dst.as_mut_ptr());
    Pool::global().run(heads, &|h| {
        for p in 0..t {
            let (token_major, head_major) = rows(h, p);
            let (from, to) = match direction {
                Direction::IntoHeads => (token_major, head_major),
                Direction::FromHeads => (head_major, token_major),
            };
            let x = &src[from..from + head_dim];
            // SAFETY: head h's rows are written by this task alone.
            let y = unsafe { std::slice::from_raw_parts_mut(target.at(to), head_dim) };
            let Some(r) = rotation else {
                y.copy_from_slice(x);
                continue;
            };
            let (cos, sin) = (
                &r.cos[p * half..(p + 1) * half],
                &r.sin[p * half..(p + 1) * half],
            );
            for i in 0..half {
                let (a, b) = if r.interleaved {
                    (2 * i, 2 * i + 1)
                } else {
                    (i, i + half)
                };
                y[a] = x[a] * cos[i] - x[b] * sin[i];
                y[b] = x[a] * sin[i] + x[b] * cos[i];
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Into the heads and back by the opposite angles is the identity, and each pair turns by
    /// its position's angle.
    #[test]
    fn rotating_back_by_the_opposite_angle_restores_the_input() {
        let shape = Heads {
            heads: 3,
            t: 5,
            head_dim: 8,
        };
        let n = 3 * 5 * 8;
        let x: Vec<f32> = (0..n).map(|i| (i % 13) as f32 - 6.0).collect();
        let angles: Vec<f32> = (0..5 * 4).map(|i| 0.1 * i as f32).collect();
        let cos: Vec<f32> = angles.iter().map(|a| a.cos()).collect();
        let sin: Vec<f32> = angles.iter().map(|a| a.sin()).collect();
        let neg: Vec<f32> = sin.iter().map(|s| -s).collect();
        for interleaved in [false, true] {
            let mut heads = vec![0f32; n];
            let forward = Rotation {
                cos: &cos,
                sin: &sin,
                interleaved,
            };
            rotate(&x, &mut heads, shape, Some(forward), Direction::IntoHeads);
            // Head 1, position 2, first pair.
            let (a, b) = if interleaved { (0, 1) } else { (0, 4) };
            let src = 2 * 24 + 8;
            let (c, s) = (cos[2 * 4], sin[2 * 4]);
            let want = x[src + a] * c - x[src + b] * s;
            assert!((heads[(5 + 2) * 8 + a] - want).abs() < 1e-6);
            let mut back = vec![0f32; n];
            let inverse = Rotation {
                cos: &cos,
                sin: &neg,
                interleaved,
            };
            rotate(
                &heads,
                &mut back,
                shape,
                Some(inverse),
                Direction::FromHeads,
            );
            for (u, v) in back.iter().zip(&x) {
                assert!((u - v).abs() < 1e-5);
            }
        }
        let mut heads = vec![0f32; n];
        rotate(&x, &mut heads, shape, None, Direction::IntoHeads);
        assert_eq!(heads[(5 + 2) * 8 + 3], x[2 * 24 + 8 + 3]);
    }
}
