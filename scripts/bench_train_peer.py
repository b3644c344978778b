"""LoRA training steps, citrus against PyTorch + PEFT, side by side on the same GGUF model.

Called by scripts/bench-train-peer, which sets CITRUS_BIN, MODEL, THREADS and optionally
BENCH_SEQ ("256 512 1024"), BENCH_TARGETS ("q,k,v,o all") and BENCH_REPEATS (1). Run with
`--torch-step ...` it is the PyTorch side of one measurement (in the reference venv).

Both sides use the same settings: the model dequantized to f32, one sequence per step, the
second half of it trained, LoRA rank 8 / alpha 16 / no dropout, AdamW (no weight decay),
gradient clipping at 1.0, one warm-up step and three timed ones. Each side runs two ways: citrus
as a training run does (keeping the top blocks' activations where half the free memory holds
them) and with `--recompute` (every block recomputed, one at a time), PyTorch without and with
gradient checkpointing. Every measurement is its own process, so peak RSS is the process's whole
footprint; the processes alternate, citrus first on odd repeats and last on even ones. The table
shows the median step time of each, the peer's time ÷ citrus's (above 1: citrus faster) and the
peak RSS.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

TIMED_STEPS = 3
ALL_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def measured(cmd, env=None):
    """Runs `cmd`; returns (stdout, its peak RSS in MiB) from the kernel's rusage of the child."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if code != 0:
            raise RuntimeError(f"{cmd[0]} failed ({code}):\n{err.read()[-3000:]}")
        return out.read(), usage.ru_maxrss / 1024


def citrus(seq, targets, base, recompute=False):
    """`citrus train --bench` for one row: (seconds per step, peak RSS MiB)."""
    cmd = [os.environ["CITRUS_BIN"], "train", "--bench", "--model", os.environ["MODEL"],
           "--threads", os.environ["THREADS"], "--seq", str(seq), "--targets", targets,
           "--base", base] + (["--recompute"] if recompute else [])
    out, rss = measured(cmd)
    for line in out.splitlines():
        fields = line.split()
        if len(fields) == 8 and fields[0] == "sft" and fields[3] == str(seq):
            return float(fields[5]), rss
    raise RuntimeError(f"no bench row in citrus's output:\n{out}")


def torch_side(seq, targets, checkpointing):
    """This script in the reference venv, one row: (seconds per step, peak RSS MiB)."""
    cmd = [os.environ["TORCH_PYTHON"], __file__, "--torch-step", os.environ["MODEL"],
           os.environ["THREADS"], str(seq), targets, "1" if checkpointing else "0"]
    out, rss = measured(cmd, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    return json.loads(out.strip().splitlines()[-1])["step_seconds"], rss


def torch_step(model_path, threads, seq, targets, checkpointing):
    """The PyTorch + PEFT side: prints {"step_seconds": …}."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(int(threads))
    torch.manual_seed(0)
    folder, name = os.path.split(model_path)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    modules = ALL_TARGETS if targets == "all" else [f"{t}_proj" for t in targets.split(",")]
    model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0,
                                             target_modules=modules))
    if checkpointing == "1":
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.train()
    seq = int(seq)
    ids = torch.randint(100, model.config.vocab_size - 100, (1, seq))
    labels = ids.clone()
    labels[:, : seq // 2] = -100
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.0)

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = model(input_ids=ids, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()

    step()
    start = time.perf_counter()
    for _ in range(TIMED_STEPS):
        step()
    print(json.dumps({"step_seconds": (time.perf_counter() - start) / TIMED_STEPS}))


def median_of(runs):
    return statistics.median(r[0] for r in runs), max(r[1] for r in runs)


def main():
    seqs = [int(s) for s in os.environ.get("BENCH_SEQ", "256 512 1024").split()]
    target_sets = os.environ.get("BENCH_TARGETS", "q,k,v,o all").split()
    repeats = int(os.environ.get("BENCH_REPEATS", "1"))
    print(f"model {os.path.basename(os.environ['MODEL'])}, {os.environ['THREADS']} threads, "
          f"{repeats} repeat(s) of {TIMED_STEPS} timed steps; ratio = peer time ÷ citrus time",
          flush=True)
    print("ratio: torch+ckpt ÷ citrus recompute (both recompute), torch ÷ citrus (both keep)")
    header = (f"{'targets':<8} {'seq':>5} {'citrus s':>9} {'MiB':>6} {'recompute s':>12} {'MiB':>6} "
              f"{'torch+ckpt s':>13} {'MiB':>6} {'ratio':>6} {'torch s':>8} {'MiB':>6} "
              f"{'ratio':>6} {'tok/s citrus':>13} {'quantized s':>12} {'÷ dense':>8}")
    print(header)
    print("-" * len(header), flush=True)
    for targets in target_sets:
        for seq in seqs:
            ours, recomputed, ckpt, plain, quant = [], [], [], [], []
            for repeat in range(repeats):
                sides = [lambda: ours.append(citrus(seq, targets, "dense")),
                         lambda: recomputed.append(citrus(seq, targets, "dense", True)),
                         lambda: ckpt.append(torch_side(seq, targets, True)),
                         lambda: plain.append(torch_side(seq, targets, False))]
                if targets == "q,k,v,o":
                    sides.append(lambda: quant.append(citrus(seq, targets, "quantized")))
                for side in (sides if repeat % 2 == 0 else reversed(sides)):
                    side()
            (t_ours, m_ours), (t_re, m_re), (t_ckpt, m_ckpt), (t_plain, m_plain) = map(
                median_of, (ours, recomputed, ckpt, plain))
            quant_cells = f"{'–':>12} {'–':>8}"
            if quant:
                t_quant, _ = median_of(quant)
                quant_cells = f"{t_quant:>12.2f} {t_quant / t_ours:>7.2f}×"
            print(f"{targets:<8} {seq:>5} {t_ours:>9.2f} {m_ours:>6.0f} {t_re:>12.2f} {m_re:>6.0f} "
                  f"{t_ckpt:>13.2f} {m_ckpt:>6.0f} {t_ckpt / t_re:>5.2f}× {t_plain:>8.2f} "
                  f"{m_plain:>6.0f} {t_plain / t_ours:>5.2f}× {seq / t_ours:>13.1f} {quant_cells}",
                  flush=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--torch-step":
        torch_step(*sys.argv[2:7])
    else:
        main()
