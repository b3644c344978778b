"""PyTorch reference fixtures for the transformer (run by scripts/reference-logits, never in CI).

Tiny models: for each supported family and RoPE setting, a random-weight model built by
transformers from a seed, saved in the transformers 5 config form (`config.json`, with
`rope_parameters`) and the transformers 4 form (`config.transformers4.json`, `rope_theta` +
`rope_scaling`), converted to GGUF by llama.cpp's own converter, with a PEFT adapter, and
PyTorch's logits at every position of a few prompts, with and without the adapter.

The default model: transformers reads the GGUF (dequantized to f32) and saves it in the
transformers 5 form; PyTorch's greedy tokens for a chat prompt are recorded with and without an
adapter trained by `citrus train`.
"""

import argparse
import json
import math
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import peft
import torch
import transformers
from safetensors.torch import save_file
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    LlamaConfig,
    PreTrainedTokenizerFast,
    Qwen2Config,
    Qwen3Config,
)

# The pre-tokenizer regexes of models/formats/src/pre_tokenizers.rs (the published ones).
LLAMA3_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
QWEN2_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
TOKENIZERS = {
    # flavour: (regex, GGUF pre-tokenizer name, special tokens: bos, eos, other)
    "llama": (LLAMA3_REGEX, "llama-bpe", ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"]),
    "qwen": (QWEN2_REGEX, "qwen2", ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]),
}
VOCAB = 320
SHAPE = dict(
    vocab_size=VOCAB,
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=2,
    num_key_value_heads=1,
    rms_norm_eps=1e-5,
    initializer_range=0.2,
)
PROMPTS = [
    "A 54-year-old man has chest pain; ECG: ST elevation in II, III, aVF.",
    "Which disturbance causes peaked T waves? K+ 6.9 mmol/L.",
]
# The transformer computes in f32: every logit within this of PyTorch's.
TOLERANCE = 1e-4
# A greedy step whose two best logits are closer than this may go either way in another f32
# implementation (training/tests/reference_logits.rs says the same).
NEAR_TIE = 2e-3
QUESTIONS = [
    "A 62-year-old woman has sudden shortness of breath after a long flight. What is the next step?",
    "What is the first-line treatment for uncomplicated hypertension?",
    "Which electrolyte disturbance causes peaked T waves, and how is it treated?",
    "A child has a fever, a strawberry tongue and peeling fingers. What is the diagnosis?",
    "What are the signs of an inferior myocardial infarction on an ECG?",
]


def variants():
    """(name, config class, tokenizer flavour, config arguments in the transformers 5 form)."""
    def rope(theta, **scaling):
        return {"rope_parameters": {"rope_theta": theta, "rope_type": "default", **scaling}}

    return [
        ("llama", LlamaConfig, "llama", dict(tie_word_embeddings=False, **rope(50_000.0))),
        ("llama-tied", LlamaConfig, "llama", dict(tie_word_embeddings=True, **rope(50_000.0))),
        ("llama31", LlamaConfig, "llama", dict(
            tie_word_embeddings=False, max_position_embeddings=256,
            **rope(500_000.0, rope_type="llama3", factor=8.0, low_freq_factor=1.0,
                   high_freq_factor=4.0, original_max_position_embeddings=32))),
        ("llama-linear", LlamaConfig, "llama", dict(
            tie_word_embeddings=True, **rope(20_000.0, rope_type="linear", factor=2.0))),
        ("llama-dynamic", LlamaConfig, "llama", dict(
            tie_word_embeddings=True, max_position_embeddings=64,
            **rope(20_000.0, rope_type="dynamic", factor=2.0))),
        ("llama-biases", LlamaConfig, "llama", dict(
            tie_word_embeddings=False, attention_bias=True, mlp_bias=True, **rope(50_000.0))),
        ("qwen2", Qwen2Config, "qwen", dict(tie_word_embeddings=True, **rope(1_000_000.0))),
        ("qwen2-yarn", Qwen2Config, "qwen", dict(
            tie_word_embeddings=False, max_position_embeddings=32,
            **rope(1_000_000.0, rope_type="yarn", factor=4.0, original_max_position_embeddings=32))),
        ("qwen3", Qwen3Config, "qwen", dict(
            tie_word_embeddings=True, head_dim=32, **rope(1_000_000.0))),
        # DeepSeek-R1-Distill-Qwen's config: qwen2 with the window switched off.
        ("deepseek-r1-distill-qwen", Qwen2Config, "qwen", dict(
            tie_word_embeddings=False, use_sliding_window=False, sliding_window=4096,
            max_window_layers=21, max_position_embeddings=131072, **rope(10_000.0))),
    ]


def train_tokenizer(flavour, data_dir, out_dir):
    """A byte-level BPE of VOCAB entries with the flavour's pre-tokenizer, trained on MedQA."""
    regex, _, specials = TOKENIZERS[flavour]
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(regex), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
    ])
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    with open(data_dir / "medqa.jsonl") as f:
        texts = [json.loads(line)["Q"] for line in f][:400]
    tokenizer.train_from_iterator(texts, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token=specials[0], eos_token=specials[1]
    )
    fast.save_pretrained(out_dir)
    return fast


def randomize(model, seed):
    """Norm weights around 1 and biases around 0, so a dropped norm or bias shows."""
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "norm" in name:
                param.copy_(1.0 + 0.2 * torch.randn(param.shape, generator=generator))
            elif name.endswith(".bias"):
                param.copy_(0.3 * torch.randn(param.shape, generator=generator))


def logits_of(model, ids):
    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0].float().contiguous()


def transformers4_form(config_v5):
    """The same settings as transformers 4 writes them: `rope_theta` and `rope_scaling`."""
    config = dict(config_v5)
    params = dict(config.pop("rope_parameters"))
    config["rope_theta"] = params.pop("rope_theta")
    rope_type = params.pop("rope_type")
    if rope_type != "default":
        # Llama-3.1's hub config says rope_type; Qwen2.5's the older `type`.
        config["rope_scaling"] = {"rope_type" if rope_type == "llama3" else "type": rope_type, **params}
    if "dtype" in config:
        config["torch_dtype"] = config.pop("dtype")
    # Older configs name no layer types: Qwen's are derived from the sliding-window settings.
    config.pop("layer_types", None)
    return config


def convert_to_gguf(llama_cpp, model_dir, out_file, pre):
    """llama.cpp's convert_hf_to_gguf.py, told the pre-tokenizer (a trained vocabulary has no
    known hash)."""
    program = f"""
import runpy, sys
sys.path.insert(0, {str(llama_cpp)!r})
sys.path.insert(1, {str(llama_cpp / 'gguf-py')!r})
import conversion.base as base
base.TextModel.get_vocab_base_pre = lambda self, tokenizer: {pre!r}
sys.argv = ["convert_hf_to_gguf.py", {str(model_dir)!r}, "--outfile", {str(out_file)!r},
            "--outtype", "f32"]
runpy.run_path({str(llama_cpp / 'convert_hf_to_gguf.py')!r}, run_name="__main__")
"""
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"convert_hf_to_gguf.py failed on {model_dir}:\n{done.stderr[-4000:]}")


def tiny_variant(index, name, config_class, flavour, arguments, args, tokenizers_dir):
    out = args.out / "tiny" / name
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    tokenizer_dir = tokenizers_dir / flavour
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    specials = TOKENIZERS[flavour][2]
    config = config_class(
        **SHAPE,
        bos_token_id=tokenizer.convert_tokens_to_ids(specials[0]),
        eos_token_id=tokenizer.convert_tokens_to_ids(specials[1]),
        **arguments,
    )
    seed = 1000 + index
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32).eval()
    randomize(model, seed)
    hf = out / "hf"
    model.save_pretrained(hf)
    tokenizer.save_pretrained(hf)
    config_v5 = json.loads((hf / "config.json").read_text())
    (hf / "config.transformers4.json").write_text(
        json.dumps(transformers4_form(config_v5), indent=2) + "\n"
    )

    prompts = [tokenizer.encode(p, add_special_tokens=False) for p in PROMPTS]
    logits = {f"prompt{i}": logits_of(model, ids) for i, ids in enumerate(prompts)}

    # The transformers 4 form must be the same model to transformers itself.
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(hf, tmp, dirs_exist_ok=True)
        shutil.copy(hf / "config.transformers4.json", Path(tmp) / "config.json")
        again = AutoModelForCausalLM.from_pretrained(tmp, dtype=torch.float32).eval()
        for i, ids in enumerate(prompts):
            assert torch.equal(logits_of(again, ids), logits[f"prompt{i}"]), name

    # How far off a loader would be that read the base as 10000 and no scaling, or the base but
    # not the scaling: what the fixture can tell apart.
    def off_by(rope_parameters):
        other = AutoModelForCausalLM.from_config(
            config_class(**SHAPE, **dict(arguments, rope_parameters=rope_parameters)),
            dtype=torch.float32,
        )
        other.load_state_dict(model.state_dict())
        other.eval()
        return max(
            (logits_of(other, ids) - logits[f"prompt{i}"]).abs().max().item()
            for i, ids in enumerate(prompts)
        )

    rope_parameters = arguments["rope_parameters"]
    sensitivity = {"base 10000, no scaling": off_by({"rope_theta": 10_000.0})}
    if rope_parameters["rope_type"] != "default":
        sensitivity["no scaling"] = off_by({"rope_theta": rope_parameters["rope_theta"]})

    lora = peft.LoraConfig(
        r=4,
        lora_alpha=8,
        lora_dropout=0.0,
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        init_lora_weights=False,
        task_type="CAUSAL_LM",
    )
    torch.manual_seed(seed + 2)
    adapted = peft.get_peft_model(model, lora).eval()
    adapted.save_pretrained(out / "adapter")
    (out / "adapter" / "README.md").unlink(missing_ok=True)
    for i, ids in enumerate(prompts):
        logits[f"prompt{i}.adapter"] = logits_of(adapted, ids)
    save_file(logits, str(out / "logits.safetensors"))

    convert_to_gguf(args.llama_cpp, hf, out / "model.gguf", TOKENIZERS[flavour][1])
    (out / "reference.json").write_text(json.dumps({
        "family": config_v5["model_type"],
        "prompts": PROMPTS,
        "prompt_ids": prompts,
        "tolerance": TOLERANCE,
        "rope_parameters": config_v5.get("rope_parameters"),
        "max_abs_logit": max(t.abs().max().item() for t in logits.values()),
        "sensitivity": sensitivity,
        "adapter_effect": max(
            (logits[f"prompt{i}.adapter"] - logits[f"prompt{i}"]).abs().max().item()
            for i in range(len(prompts))
        ),
        "greedy": {k: t.argmax(-1).tolist() for k, t in logits.items()},
    }, indent=2) + "\n")
    print(f"{name}: {sensitivity}", flush=True)


def default_model(args, work):
    """The default model in the transformers 5 form, and PyTorch's greedy tokens."""
    out = args.out / "default-model"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    gguf = Path(args.default_model)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # Newer transformers refuse to save a GGUF-loaded model: rebuild it from its config.
    config = loaded.config
    config.quantization_config = None
    if hasattr(config, "_pre_quantization_dtype"):
        del config._pre_quantization_dtype
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    model.eval()
    folder = work / "smollm2-transformers5"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    saved = json.loads((folder / "config.json").read_text())
    saved.pop("quantization_config", None)
    (out / "config.transformers5.json").write_text(json.dumps(saved, indent=2) + "\n")

    adapter_dir = train_adapter(args, work)
    shutil.copytree(adapter_dir, out / "adapter", ignore=shutil.ignore_patterns("*.json.tmp"))
    for entry in (out / "adapter").iterdir():
        if entry.name not in ("adapter_config.json", "adapter_model.safetensors"):
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    adapted = peft.PeftModel.from_pretrained(model, out / "adapter").eval()

    # The first question whose greedy runs have no near-tie, so that every token is decided.
    for question in QUESTIONS:
        prompt = tokenizer.apply_chat_template(
            [{"role": "user", "content": question}], add_generation_prompt=True, tokenize=False
        )
        ids = tokenizer.encode(prompt, add_special_tokens=False)
        with adapted.disable_adapter():
            runs = {"base": greedy(adapted, ids)}
        runs["adapter"] = greedy(adapted, ids)
        smallest = min(min(run["top2_gaps"]) for run in runs.values())
        print(f"{question!r}: smallest top-2 gap {smallest}", flush=True)
        if smallest >= NEAR_TIE:
            break
    else:
        sys.exit("every question has a near-tie in its greedy run")
    (out / "reference.json").write_text(json.dumps({
        "question": question,
        "prompt": prompt,
        "prompt_ids": ids,
        "new_tokens": 40,
        **runs,
    }, indent=2) + "\n")
    for key, run in runs.items():
        print(f"default model, {key}: {tokenizer.decode(run['tokens'])!r}", flush=True)


def greedy(model, ids, new_tokens=40):
    """Greedy tokens (no repetition penalty) and, at each step, the gap between the two best
    logits (a near-tie may go either way in another implementation)."""
    with torch.no_grad():
        out = model.generate(
            torch.tensor([ids]),
            max_new_tokens=new_tokens,
            do_sample=False,
            repetition_penalty=1.0,
            output_logits=True,
            return_dict_in_generate=True,
            eos_token_id=None,
            pad_token_id=0,
        )
    tokens = out.sequences[0, len(ids):].tolist()
    gaps = []
    for step in out.logits:
        top = torch.topk(step[0].float(), 2).values
        gaps.append(round((top[0] - top[1]).item(), 6))
    return {"tokens": tokens, "top2_gaps": gaps}


def train_adapter(args, work):
    """A rank-2 adapter on q, v trained by `citrus train` for a few steps, as PEFT."""
    data = work / "train.jsonl"
    with open(args.data / "medqa.jsonl") as f:
        items = [json.loads(line) for line in f][:8]
    with open(data, "w") as f:
        for item in items:
            options = "\n".join(o["op_text"] for o in item["OP"])
            f.write(json.dumps({
                "input": f"{item['Q']}\n{options}",
                "target": f"<think>\nThe key findings point to option {item['A']}.\n</think>\n"
                          f"<answer>\n{item['A']}\n</answer>",
            }) + "\n")
    run = work / "train-run"
    subprocess.run([
        str(args.citrus), "train", "--model", str(args.default_model), "--data", str(data),
        "--out", str(run), "--db", str(work / "train.db"), "--steps", "6", "--rank", "2", "--alpha", "4", "--targets", "q,v",
        "--lr", "2e-3", "--seed", "7", "--grad-accum", "1", "--max-len", "256",
    ], check=True)
    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--llama-cpp", type=Path, required=True)
    parser.add_argument("--citrus", type=Path, required=True)
    parser.add_argument("--default-model", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--only", help="one tiny variant, 'tiny' (all of them) or 'default-model'")
    args = parser.parse_args()
    torch.set_num_threads(2)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        tokenizers_dir = work / "tokenizers"
        for flavour in TOKENIZERS:
            train_tokenizer(flavour, args.data, tokenizers_dir / flavour)
        for index, (name, config_class, flavour, arguments) in enumerate(variants()):
            if args.only in (None, "tiny", name):
                tiny_variant(index, name, config_class, flavour, arguments, args, tokenizers_dir)
        if args.only in (None, "default-model"):
            default_model(args, work)
    (args.out / "versions.json").write_text(json.dumps({
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
        "llama.cpp converter": str(args.llama_cpp),
    }, indent=2) + "\n")


if __name__ == "__main__":
    main()
