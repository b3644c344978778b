"""Runs citrus and llama.cpp side by side on GGUF files and prints one table of ratios.

Called by scripts/bench-peer, which builds llama-bench and sets PEER_BIN, CITRUS_BIN, THREADS,
BENCH_DEPTHS (and optionally BENCH_REPEATS, BENCH_DEPTH_REPEATS, BENCH_PROMPT, BENCH_GEN). Each
measurement runs both engines one after the other, `repeats` times, alternating which goes
first; the table shows the median tokens per second of each and citrus ÷ llama.cpp, and the
peak resident memory of the process (same context for both: prompt + generated tokens).
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile


def measured(cmd):
    """Runs `cmd`, returns (stdout, its peak RSS in MiB) from the kernel's rusage of the child."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}):\n{err.read()[-2000:]}")
        return out.read(), usage.ru_maxrss / 1024


def llama(model, threads, prompt, gen, depth):
    """llama-bench: (prefill tok/s or None, decode tok/s, peak RSS MiB)."""
    cmd = [os.path.join(os.environ["PEER_BIN"], "llama-bench"), "-m", model, "-t", str(threads),
           "-p", str(prompt), "-n", str(gen), "-d", str(depth), "-r", "1", "-o", "json"]
    out, rss = measured(cmd)
    rows = json.loads(out)
    prefill = next((r["avg_ts"] for r in rows if r["n_prompt"] > 0), None)
    decode = next(r["avg_ts"] for r in rows if r["n_gen"] > 0)
    return prefill, decode, rss


def citrus(model, threads, prompt, gen, depth):
    """citrus bench: (prefill tok/s, decode tok/s, peak RSS MiB) with the same context."""
    tokens = max(prompt, depth, 1)
    # Decode starts at `depth` cached tokens, as llama-bench's generation test does (for depth 0
    # after the timed prefill the cache is emptied first).
    cmd = [os.environ["CITRUS_BIN"], "bench", "--model", model, "--threads", str(threads),
           "--prompt-tokens", str(tokens), "--gen-tokens", str(gen), "--decode-depth", str(depth),
           "--context", str(tokens + gen), "--json"]
    out, rss = measured(cmd)
    report = json.loads(out.strip().splitlines()[-1])
    return report["prefill_tokens_per_second"], report["decode_tokens_per_second"], rss


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def compare(model, threads, prompt, gen, depth, repeats):
    """Both engines `repeats` times, alternating; medians of each column."""
    results = {"llama.cpp": [], "citrus": []}
    for r in range(repeats):
        order = [("llama.cpp", llama), ("citrus", citrus)]
        for name, engine in order if r % 2 == 0 else reversed(order):
            results[name].append(engine(model, threads, prompt, gen, depth))
    return {name: [median(col) for col in zip(*rows)] for name, rows in results.items()}


def fmt(value, width=7):
    return f"{value:{width}.1f}" if value is not None else " " * (width - 1) + "-"


def ratio(ours, peer):
    return f"{ours / peer:5.2f}x" if ours and peer else "    -"


def main(models):
    threads = int(os.environ.get("THREADS", "2"))
    # Five runs of the short rows and 128 generated tokens (llama-bench's own default): with
    # three runs of 32 tokens the noise of a shared machine moved decode ratios by ±10%.
    repeats = int(os.environ.get("BENCH_REPEATS", "5"))
    depth_repeats = int(os.environ.get("BENCH_DEPTH_REPEATS", "3"))
    prompt = int(os.environ.get("BENCH_PROMPT", "128"))
    gen = int(os.environ.get("BENCH_GEN", "128"))
    depths = [int(d) for d in os.environ.get("BENCH_DEPTHS", "").split()]
    print(f"{threads} threads, prompt {prompt}, decode {gen}, {repeats} runs each ({depth_repeats}"
          " at depth), alternating;"
          " tok/s medians, peak RSS in MiB, ratio = citrus / llama.cpp")
    header = (f"{'file':<44} {'row':<10} {'llama.cpp':>9} {'citrus':>7} {'ratio':>6}"
              f"   {'RSS llama':>9} {'citrus':>7} {'ratio':>6}")
    print(header)
    print("-" * len(header))
    for model in models:
        name = os.path.basename(model)[:44]
        rows = [("prefill", 0), ("decode", 0)] + [(f"decode@{d}", d) for d in depths]
        measured_rows = {0: compare(model, threads, prompt, gen, 0, repeats)}
        for d in depths:
            measured_rows[d] = compare(model, threads, 0, gen, d, depth_repeats)
        for label, depth in rows:
            m = measured_rows[depth]
            column = 0 if label == "prefill" else 1
            peer, ours = m["llama.cpp"][column], m["citrus"][column]
            peer_rss, our_rss = m["llama.cpp"][2], m["citrus"][2]
            show_rss = label != "prefill"
            print(f"{name:<44} {label:<10} {fmt(peer, 9)} {fmt(ours)} {ratio(ours, peer):>6}   "
                  + (f"{fmt(peer_rss, 9)} {fmt(our_rss)} {ratio(our_rss, peer_rss):>6}"
                     if show_rss else ""))
            sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1:])
