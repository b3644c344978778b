//! `citrus bench`: load time, prefill and decode throughput, peak memory.

use std::path::PathBuf;
use std::time::Instant;

use citrus_engine::generation::prefill;
use citrus_engine::model::Model;
use citrus_engine::sampling::argmax;
use citrus_engine::ModelError;
use citrus_host::memory::{mib, peak_resident_memory};

use crate::error::AppResult;
use clap::Args;
use serde::Serialize;

mod remote;

use super::engine_arg::EngineArg;
use super::model_args::ModelArgs;

/// Clinical text repeated to build a prompt of the requested length.
pub(super) const BENCH_TEXT: &str = "A 58-year-old man presents with crushing substernal chest pain radiating \
to the left arm for 45 minutes, diaphoresis and nausea. Blood pressure 150/90 mm Hg, pulse 104/min. \
ECG shows ST elevation in leads II, III and aVF. Troponin I is 2.4 ng/mL. ";

/// Arguments of `bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Prompt length in tokens.
    #[arg(long, default_value_t = 256)]
    prompt_tokens: usize,
    /// Tokens to generate (end-of-sequence ignored).
    #[arg(long, default_value_t = 64)]
    gen_tokens: usize,
    /// Tokens in the cache when the timed decode starts [default: the whole prompt]. 0 decodes
    /// from an empty cache, as `llama-bench`'s generation test does; another value first fills
    /// the cache with that many prompt tokens, untimed.
    #[arg(long)]
    decode_depth: Option<usize>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    /// The case store where engines are looked up [default: $CITRUS_HOME/citrus.db].
    #[arg(long, value_name = "FILE", requires = "engine")]
    db: Option<PathBuf>,
    #[command(flatten)]
    engine: EngineArg,
    #[command(flatten)]
    model: ModelArgs,
}

/// The measured numbers.
#[derive(Debug, Serialize)]
struct BenchReport {
    model: String,
    quantization: String,
    requantized_to: Option<String>,
    threads: usize,
    load_seconds: f64,
    prompt_tokens: usize,
    prefill_tokens_per_second: f64,
    gen_tokens: usize,
    decode_depth: usize,
    decode_tokens_per_second: f64,
    peak_rss_mib: Option<u64>,
}

/// Loads the model, warms up, runs one prefill and a fixed number of greedy decode steps.
pub fn run(args: BenchArgs) -> AppResult<()> {
    if args.prompt_tokens == 0 || args.gen_tokens == 0 {
        return Err(ModelError::invalid_setting(
            "bench",
            "--prompt-tokens and --gen-tokens must be at least 1",
        )
        .into());
    }
    if args.engine.engine.is_some() {
        return remote::run(&args);
    }
    let started = Instant::now();
    let mut model = args.model.load()?;
    let load_seconds = started.elapsed().as_secs_f64();

    let prompt = bench_prompt(&model, args.prompt_tokens)?;
    warm_up(&mut model, &prompt)?;
    let started = Instant::now();
    let logits = prefill(model.transformer_mut(), &prompt)?;
    let prefill_seconds = started.elapsed().as_secs_f64();

    let depth = args.decode_depth.unwrap_or(prompt.len());
    let mut token = if depth == prompt.len() {
        argmax(&logits)
    } else {
        fill_cache(&mut model, depth)?
    };
    let started = Instant::now();
    for _ in 0..args.gen_tokens {
        let logits = model.transformer_mut().forward(&[token], false)?;
        token = argmax(&logits.to_vec1::<f32>().map_err(ModelError::from)?);
    }
    let decode_seconds = started.elapsed().as_secs_f64();

    let info = model.info();
    let report = BenchReport {
        model: info.name.clone(),
        quantization: info.quantization.clone(),
        requantized_to: info.requantized_to.clone(),
        threads: citrus_engine::device::cpu_threads(),
        load_seconds,
        prompt_tokens: prompt.len(),
        prefill_tokens_per_second: prompt.len() as f64 / prefill_seconds,
        gen_tokens: args.gen_tokens,
        decode_depth: depth,
        decode_tokens_per_second: args.gen_tokens as f64 / decode_seconds,
        peak_rss_mib: peak_resident_memory().map(mib),
    };
    if args.json {
        println!("{}", serde_json::to_string(&report).unwrap_or_default());
    } else {
        println!(
            "{} ({}{}), {} threads\n  load     {:>8.2} s\n  prefill  {:>8.1} tok/s ({} tokens)\n  decode   {:>8.1} tok/s ({} tokens after {})\n  peak RSS {:>8} MiB",
            report.model,
            report.quantization,
            report.requantized_to.as_deref().map(|q| format!(" → {q}")).unwrap_or_default(),
            report.threads,
            report.load_seconds,
            report.prefill_tokens_per_second,
            report.prompt_tokens,
            report.decode_tokens_per_second,
            report.gen_tokens,
            report.decode_depth,
            report.peak_rss_mib.map_or("?".into(), |m| m.to_string()),
        );
    }
    Ok(())
}

/// One untimed prefill and decode step, as `llama-bench` runs before it measures: the timed
/// passes then find the thread pool awake and the buffers' pages mapped.
fn warm_up(model: &mut Model, prompt: &[u32]) -> AppResult<()> {
    let logits = prefill(model.transformer_mut(), prompt)?;
    model.transformer_mut().forward(&[argmax(&logits)], false)?;
    Ok(())
}

/// Empties the cache and fills it with `depth` prompt tokens (untimed); returns the token the
/// timed decode starts with.
fn fill_cache(model: &mut Model, depth: usize) -> AppResult<u32> {
    model.transformer_mut().clear_cache();
    let prompt = bench_prompt(model, depth.max(1))?;
    if depth == 0 {
        return Ok(prompt[0]);
    }
    Ok(argmax(&prefill(model.transformer_mut(), &prompt)?))
}

/// Exactly `count` tokens of clinical text.
fn bench_prompt(model: &Model, count: usize) -> AppResult<Vec<u32>> {
    let mut tokens = model.tokenizer().encode_prompt("")?;
    let chunk = model.tokenizer().encode(BENCH_TEXT)?;
    while tokens.len() < count {
        tokens.extend_from_slice(&chunk);
    }
    tokens.truncate(count);
    Ok(tokens)
}
