//! `citrus models inspect PATH`.

use std::path::PathBuf;

use crate::error::AppResult;
use citrus_engine::model::{inspect, ModelInfo};
use citrus_host::memory::mib;
use clap::Args;

use super::model_args::ModelArgs;

/// Arguments of `models inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// A .gguf file or a Hugging Face folder.
    path: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    model: ModelArgs,
}

/// Prints what the model is and whether it fits in memory.
pub fn run(args: InspectArgs) -> AppResult<()> {
    let options = args.model.load_options()?;
    let info = inspect(&args.path, &options)?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&info).unwrap_or_default()
        );
    } else {
        print!("{}", describe(&info));
    }
    Ok(())
}

fn describe(info: &ModelInfo) -> String {
    let c = &info.config;
    let m = &info.memory;
    let available = info
        .available_bytes
        .map_or("unknown".to_string(), |b| format!("{} MiB", b >> 20));
    let verdict = if info.fits() { "fits" } else { "does NOT fit" };
    let requant = info
        .requantized_to
        .as_deref()
        .map(|q| format!(" (re-quantized to {q} at load)"))
        .unwrap_or_default();
    format!(
        "path:            {path}\n\
         name:            {name}\n\
         format:          {format:?}\n\
         architecture:    {arch:?}\n\
         parameters:      {params:.1}M\n\
         quantization:    {quant}{requant}\n\
         size on disk:    {disk} MiB\n\
         layers:          {layers} (hidden {hidden}, ffn {ffn}, heads {heads}, kv heads {kv}, head dim {hd})\n\
         vocabulary:      {vocab}\n\
         context length:  {ctx} (model maximum {max_ctx})\n\
         rope:            {rope}\n\
         tokenizer:       {tok}\n\
         chat template:   {tpl}\n\
         memory estimate: {total} MiB = {w} MiB weights + {kvc} MiB KV cache + {work} MiB working\n\
         available:       {available} on {device}: {verdict}\n",
        path = info.path.display(),
        name = info.name,
        format = info.format,
        arch = info.architecture,
        params = info.parameter_count as f64 / 1e6,
        quant = info.quantization,
        disk = mib(info.file_bytes),
        layers = c.num_layers,
        hidden = c.hidden_size,
        ffn = c.intermediate_size,
        heads = c.num_heads,
        kv = c.num_kv_heads,
        hd = c.head_dim,
        vocab = c.vocab_size,
        ctx = info.context_length,
        max_ctx = c.context_length,
        rope = c.rope,
        tok = info.tokenizer,
        tpl = if info.has_chat_template { "yes" } else { "no (ChatML fallback)" },
        total = mib(m.total_bytes()),
        w = mib(m.weights_bytes),
        kvc = mib(m.kv_cache_bytes),
        work = mib(m.working_bytes),
        device = info.device,
    )
}
