//! Speed of our transformer against candle-transformers' `quantized_llama` on the same GGUF
//! file, prompt and thread count: prefill and decode tokens per second, alternating runs.
//!
//! `cargo bench -p citrus-engine --bench reference [-- MODEL.gguf]` (default: the installed
//! default model). Set `CITRUS_BENCH_REQUANTIZE=q8_0` to compare on re-quantized weights.

use std::path::PathBuf;
use std::time::Instant;

use candle_core::quantized::gguf_file;
use candle_core::{Device, Tensor};
use candle_transformers::models::quantized_llama::ModelWeights;
use citrus_engine::generation::prefill;
use citrus_engine::model::{parse_quantization, LoadOptions, Model};
use citrus_engine::sampling::argmax;
use citrus_host::home::default_model_path;

const PROMPT_TOKENS: usize = 256;
const GEN_TOKENS: usize = 64;
const ROUNDS: usize = 3;

fn main() {
    let path = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map(PathBuf::from)
        .unwrap_or_else(default_model_path);
    let requantize = std::env::var("CITRUS_BENCH_REQUANTIZE")
        .ok()
        .map(|q| parse_quantization(&q).expect("CITRUS_BENCH_REQUANTIZE"));
    let options = LoadOptions {
        requantize,
        ..Default::default()
    };
    let mut ours = Model::load(&path, &options, &mut |_| {}).expect("load our transformer");
    let mut reference = load_reference(&path, requantize);
    let text = "A 58-year-old man presents with crushing substernal chest pain radiating to the left arm, diaphoresis and nausea. ";
    let chunk = ours.tokenizer().encode(text).expect("tokenize");
    let prompt: Vec<u32> = chunk.iter().copied().cycle().take(PROMPT_TOKENS).collect();

    println!(
        "{} ({:?}{}), {} threads, {PROMPT_TOKENS} prompt + {GEN_TOKENS} generated tokens, best of {ROUNDS}",
        path.display(),
        ours.info().quantization,
        requantize.map(|q| format!(" -> {q:?}")).unwrap_or_default(),
        candle_core::utils::get_num_threads()
    );
    let mut best = [[0f64; 2]; 2];
    for _ in 0..ROUNDS {
        let a = run_ours(&mut ours, &prompt);
        let b = run_reference(&mut reference, &prompt);
        for (slot, (p, d)) in best.iter_mut().zip([a, b]) {
            slot[0] = slot[0].max(p);
            slot[1] = slot[1].max(d);
        }
    }
    for (name, [p, d]) in ["citrus transformer", "candle quantized_llama"]
        .iter()
        .zip(best)
    {
        println!("{name:<24} prefill {p:>7.1} tok/s   decode {d:>6.1} tok/s");
    }
}

fn load_reference(
    path: &PathBuf,
    requantize: Option<candle_core::quantized::GgmlDType>,
) -> ModelWeights {
    let mut file = std::fs::File::open(path).expect("open model");
    let content = gguf_file::Content::read(&mut file).expect("read gguf");
    if let Some(dtype) = requantize {
        // Re-quantize through a temporary GGUF so the reference sees the same weights.
        let tmp = std::env::temp_dir().join("citrus-bench-reference.gguf");
        requantize_file(&content, &mut file, dtype, &tmp);
        let mut file = std::fs::File::open(&tmp).expect("open requantized");
        let content = gguf_file::Content::read(&mut file).expect("read requantized");
        return ModelWeights::from_gguf(content, &mut file, &Device::Cpu).expect("reference");
    }
    ModelWeights::from_gguf(content, &mut file, &Device::Cpu).expect("reference")
}

fn requantize_file(
    content: &gguf_file::Content,
    file: &mut std::fs::File,
    dtype: candle_core::quantized::GgmlDType,
    out: &PathBuf,
) {
    use candle_core::quantized::QTensor;
    let mut tensors = Vec::new();
    for (name, info) in &content.tensor_infos {
        let q = content.tensor(file, name, &Device::Cpu).expect("tensor");
        let dims = info.shape.dims();
        let linear =
            dims.len() == 2 && name.starts_with("blk.") && dims[1] % dtype.block_size() == 0;
        let q = if linear {
            QTensor::quantize(&q.dequantize(&Device::Cpu).expect("dequantize"), dtype)
                .expect("quantize")
        } else {
            q
        };
        tensors.push((name.clone(), q));
    }
    let metadata: Vec<(&str, &gguf_file::Value)> = content
        .metadata
        .iter()
        .map(|(k, v)| (k.as_str(), v))
        .collect();
    let tensors: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, q)| (n.as_str(), q)).collect();
    let mut out = std::fs::File::create(out).expect("create");
    gguf_file::write(&mut out, &metadata, &tensors).expect("write gguf");
}

/// (prefill tok/s, decode tok/s) for our transformer.
fn run_ours(model: &mut Model, prompt: &[u32]) -> (f64, f64) {
    let t = Instant::now();
    let logits = prefill(model.transformer_mut(), prompt).expect("prefill");
    let prefill_rate = prompt.len() as f64 / t.elapsed().as_secs_f64();
    let mut token = argmax(&logits);
    let t = Instant::now();
    for _ in 0..GEN_TOKENS {
        let logits = model
            .transformer_mut()
            .forward(&[token], false)
            .expect("decode");
        token = argmax(&logits.to_vec1::<f32>().expect("logits"));
    }
    (prefill_rate, GEN_TOKENS as f64 / t.elapsed().as_secs_f64())
}

/// (prefill tok/s, decode tok/s) for the reference.
fn run_reference(model: &mut ModelWeights, prompt: &[u32]) -> (f64, f64) {
    model.clear_kv_cache();
    let t = Instant::now();
    let input = Tensor::new(prompt, &Device::Cpu)
        .and_then(|t| t.unsqueeze(0))
        .expect("input");
    let logits = model.forward(&input, 0).expect("prefill");
    let prefill_rate = prompt.len() as f64 / t.elapsed().as_secs_f64();
    let mut token = argmax(
        &logits
            .squeeze(0)
            .and_then(|l| l.to_vec1::<f32>())
            .expect("logits"),
    );
    let t = Instant::now();
    for i in 0..GEN_TOKENS {
        let input = Tensor::new(&[token], &Device::Cpu)
            .and_then(|t| t.unsqueeze(0))
            .expect("input");
        let logits = model.forward(&input, prompt.len() + i).expect("decode");
        token = argmax(
            &logits
                .squeeze(0)
                .and_then(|l| l.to_vec1::<f32>())
                .expect("logits"),
        );
    }
    (prefill_rate, GEN_TOKENS as f64 / t.elapsed().as_secs_f64())
}
