//! The kernels against candle's reference: for every block type, the product with weights
//! quantized by candle must match the dense product of the dequantized weights as closely as
//! candle's own quantized matmul does (both quantize the input to 8 bits), and every
//! instruction set must agree with the portable kernel.

use candle_core::quantized::{QMatMul, QTensor};
use candle_core::{Device, Module, Tensor};

use super::*;

/// Deterministic values in about −1..1 with some large ones, like activations.
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let v = (state % 20_001) as f32 / 10_000.0 - 1.0;
            if i % 97 == 0 {
                v * 6.0
            } else {
                v
            }
        })
        .collect()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

struct Case {
    weight: QuantWeight,
    x: Vec<f32>,
    m: usize,
    k: usize,
    dense: Vec<f32>,
    candle: Vec<f32>,
}

fn case(kind: BlockType, m: usize, n: usize, k: usize) -> Case {
    let dev = Device::Cpu;
    let w = Tensor::from_vec(values(n * k, kind as u64 + 1), (n, k), &dev).unwrap();
    let q = QTensor::quantize(&w, kind.ggml()).unwrap();
    let x = values(m * k, 99 + m as u64);
    let xt = Tensor::from_vec(x.clone(), (m, k), &dev).unwrap();
    let dequantized = q.dequantize(&dev).unwrap();
    let dense = xt.matmul(&dequantized.t().unwrap()).unwrap();
    let q = Arc::new(q);
    let candle = QMatMul::from_arc(q.clone()).unwrap().forward(&xt).unwrap();
    let flat = |t: Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    Case {
        weight: QuantWeight::new(q).expect("a type with a kernel"),
        x,
        m,
        k,
        dense: flat(dense),
        candle: flat(candle),
    }
}

#[test]
fn every_block_type_matches_candle_on_every_instruction_set() {
    let isas = Isa::supported();
    eprintln!(
        "instruction sets exercised: {}",
        isas.iter()
            .map(|isa| isa.name())
            .collect::<Vec<_>>()
            .join(", ")
    );
    for kind in BlockType::ALL {
        // m = 5 and 9 reach the prefill tiles of four and eight input rows, and 45 weight rows
        // make two tiles of sixteen rows (AVX-512), then one of eight (AVX2), or five eight-row
        // tiles, and a remainder. The 32-element types are 576 wide (SmolLM2's width): 18
        // blocks, not a multiple of four or eight.
        let k = if kind.is_k_quant() { 512 } else { 576 };
        for m in [1, 3, 5, 9] {
            let c = case(kind, m, 45, k);
            let scale = c.dense.iter().fold(0f32, |s, v| s.max(v.abs()));
            let candle_error = max_abs_diff(&c.candle, &c.dense);
            let mut first: Option<Vec<f32>> = None;
            for &isa in &isas {
                let ours = matmul_with(isa, &c.x, c.k, &[&c.weight]).remove(0);
                let error = max_abs_diff(&ours, &c.dense);
                eprintln!(
                    "{kind:?} m={m} {}: max |Δ| vs dense {error:.5} (candle {candle_error:.5}, \
                     outputs up to {scale:.2}), vs candle {:.5}",
                    isa.name(),
                    max_abs_diff(&ours, &c.candle),
                );
                assert!(
                    error <= 2.0 * candle_error + 1e-3 * scale,
                    "{kind:?} {}: error {error} against candle's {candle_error}",
                    isa.name()
                );
                if let Some(first) = &first {
                    let spread = max_abs_diff(first, &ours);
                    assert!(spread <= 1e-4 * scale, "{kind:?}: ISAs differ by {spread}");
                }
                first.get_or_insert(ours);
            }
            assert_eq!(c.m * 45, c.dense.len());
        }
    }
}

#[test]
fn one_input_feeds_several_weights_of_different_families() {
    let (a, b) = (
        case(BlockType::Q4K, 6, 40, 256),
        case(BlockType::Q8_0, 6, 24, 256),
    );
    let b_on_a_input = {
        let dev = Device::Cpu;
        let xt = Tensor::from_vec(a.x.clone(), (6, 256), &dev).unwrap();
        let w = b.weight.tensor.dequantize(&dev).unwrap();
        xt.matmul(&w.t().unwrap())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
    };
    let outputs = matmul_shared(&a.x, 256, &[&a.weight, &b.weight]);
    assert_eq!(outputs[0].len(), 6 * 40);
    assert_eq!(outputs[1].len(), 6 * 24);
    assert!(
        max_abs_diff(&outputs[0], &a.dense)
            < 0.05 * a.dense.iter().fold(0f32, |s, v| s.max(v.abs()))
    );
    assert!(
        max_abs_diff(&outputs[1], &b_on_a_input)
            < 0.05 * b_on_a_input.iter().fold(0f32, |s, v| s.max(v.abs()))
    );
}

#[test]
fn unsupported_types_and_shapes_have_no_kernel() {
    let w = Tensor::zeros((4, 64), candle_core::DType::F32, &Device::Cpu).unwrap();
    let q = QTensor::quantize(&w, candle_core::quantized::GgmlDType::Q5_1).unwrap();
    assert!(QuantWeight::new(Arc::new(q)).is_none());
    let q = QTensor::quantize(&w, candle_core::quantized::GgmlDType::F32).unwrap();
    assert!(QuantWeight::new(Arc::new(q)).is_none());
}
