#!/usr/bin/env python3
"""Collects bench/run.sh's measurements into one JSONL file and prints issue #6's tables.

  tables.py add RESULTS key=value...           RESULT {json} lines of stdin (bench_encode,
                                               ort_bench.js, torch_cpu_bench.py), tagged
  tables.py add-train RESULTS key=value... --log LOG --rss-kb N
                                               a `semb train --log` file, summarised
  tables.py add-peak RESULTS                   bench_peak's lines on stdin
  tables.py add-machine RESULTS --semb-version TEXT
  tables.py report RESULTS --model DIR [--train-tokens FILE]
                                               markdown tables, medians over rounds

Tags (key=value; numbers become numbers): part (encode, train, gradcache, lengths), engine
(semb, ort, torch), precision (fp32, bf16), batch, threads, round, length, mini. Input lines
that are not RESULT lines are echoed, so the caller still sees the tools' own output.
Standard library only.
"""
import argparse
import json
import re
import statistics
import sys

ENGINE_NAMES = {"semb": "semb", "ort": "ONNX Runtime", "torch": "PyTorch"}


def tags(pairs):
    out = {}
    for p in pairs:
        k, _, v = p.partition("=")
        try:
            out[k] = int(v)
        except ValueError:
            out[k] = v
    return out


def append(path, record):
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")


def cmd_add(a):
    for line in sys.stdin:
        sys.stdout.write(line)
        sys.stdout.flush()
        if line.startswith("RESULT "):
            append(a.results, {**json.loads(line[7:]), **tags(a.tags)})


# The parts of a training step the log gives (semb train --log), in the order they run.
STEP_PARTS = ["data_s", "first_pass_s", "forward_s", "loss_s", "backward_s", "optimizer_s"]


def cmd_add_train(a):
    """Per step of the log: step_s, data_s, the parts of the step (STEP_PARTS, where the log
    has them) and tokens. The first step is the warm-up (first touch of the workspaces, the
    data files read into the shuffle buffer): throughput comes from the steps after it, when
    there are any."""
    steps = []
    for line in open(a.log):
        e = json.loads(line)
        if "step_s" in e:
            steps.append(dict(step_s=e["step_s"], tokens=e["tokens_per_s"] * e["step_s"],
                              **{k: e[k] for k in STEP_PARTS if k in e}))
    if not steps:
        sys.exit(f"{a.log}: no step lines with step_s")
    t = tags(a.tags)
    timed = steps[1:] or steps
    step_s = statistics.median(s["step_s"] for s in timed)
    record = dict(t, unit="pairs/s", steps=steps, timed_steps=len(timed), step_s_median=step_s,
                  thr_median=t["batch"] / step_s,
                  tokens_per_s=sum(s["tokens"] for s in timed) / sum(s["step_s"] for s in timed),
                  peak_rss_mb=a.rss_kb / 1024)
    append(a.results, record)
    print(f"semb train {t.get('precision', 'fp32')} batch {t['batch']} mini {t.get('mini', 0)} threads "
          f"{t['threads']}: {record['thr_median']:.1f} pairs/s (median of {plural(len(timed), 'step')}), "
          f"data {100 * data_share(record):.2f}% of a step, peak RSS {record['peak_rss_mb']:.0f} MiB")


def cmd_add_peak(a):
    for line in sys.stdin:
        sys.stdout.write(line)
        m = re.match(r"peak fp32 (\S+) threads (\d+): ([\d.]+) GFLOP/s", line)
        if m:
            append(a.results, dict(part="peak", path=m[1], threads=int(m[2]), gflops=float(m[3])))


def cmd_add_machine(a):
    name, flags = "?", set()
    for line in open("/proc/cpuinfo"):
        k, _, v = line.partition(":")
        if k.strip() == "model name" and name == "?":
            name = v.strip()
        elif k.strip() == "flags" and not flags:
            flags = set(v.split())
    wanted = ["avx2", "fma", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8"]
    append(a.results, dict(part="machine", model_name=name, cpus=sum(1 for l in open("/proc/cpuinfo")
                                                                       if l.startswith("processor")),
                           flags={f: f in flags for f in wanted}, semb_version=a.semb_version))


# --- the report ---------------------------------------------------------------------------


def model_shape(model_dir):
    c = json.load(open(f"{model_dir}/config.json"))
    return dict(hidden=c["hidden_size"], layers=c["num_hidden_layers"], inter=c["intermediate_size"])


def forward_flops(shape, tokens, tokens_sq):
    """Matmul FLOPs of one forward over sequences with these sums of lengths and squared
    lengths: 2 x the non-embedding linear weights per token, plus QK^T and PV (4 L H per token
    and layer), as torch_cpu_bench.py and ort_bench.js count them."""
    H, I, NL = shape["hidden"], shape["inter"], shape["layers"]
    return 2 * NL * (4 * H * H + 2 * H * I) * tokens + 4 * NL * H * tokens_sq


def data_share(r):
    timed = r["steps"][1:] or r["steps"]
    return statistics.median(s["data_s"] / s["step_s"] for s in timed)


def med(xs):
    return statistics.median(xs) if xs else None


def plural(n, word):
    return f"{n} {word}{'' if n == 1 else 's'}"


class Results:
    def __init__(self, path, shape, train_sq_ratio):
        self.rows = [json.loads(l) for l in open(path) if l.strip()]
        self.shape = shape
        self.train_sq_ratio = train_sq_ratio  # sum(L^2) / sum(L) of the training texts

    def select(self, **want):
        return [r for r in self.rows if all(r.get(k) == v for k, v in want.items())]

    def value(self, key="thr_median", **want):
        return med([r[key] for r in self.select(**want) if r.get(key) is not None])

    def rounds(self, **want):
        return len(self.select(**want))

    def gflops_real(self, r):
        """GFLOP/s of real (unpadded) work of one measurement."""
        if r["part"] in ("train", "gradcache"):
            if r["engine"] == "semb":
                per_token = forward_flops(self.shape, 1, self.train_sq_ratio) if self.train_sq_ratio else None
                return 3 * per_token * r["tokens_per_s"] / 1e9 if per_token else None
            return r.get("gflops_real_median")
        if "tokens_sq" in r:
            return forward_flops(self.shape, r["tokens_real"], r["tokens_sq"]) * r["thr_median"] / r["sentences"] / 1e9
        return r.get("gflops_real_median")

    def peak(self, threads):
        """fp32 peak on `threads` threads: the best path's per-core peak (the better of the
        one-thread run and the T-thread run's share) times T, never less than measured."""
        best = None
        for path in {r["path"] for r in self.select(part="peak")}:
            one = self.value("gflops", part="peak", path=path, threads=1) or 0
            many = self.value("gflops", part="peak", path=path, threads=threads) or 0
            p = max(one, many / threads) * threads
            if p and (best is None or p > best[0]):
                best = (p, path)
        return best


def fmt(x, digits=1):
    if x is None:
        return "n/a"
    return f"{x:,.{digits}f}"


def ratio(x, y):
    return f"{x / y:.2f}" if x and y else "n/a"


def table(header, rows):
    print("| " + " | ".join(header) + " |")
    print("|---|" + "|".join("---:" for _ in header[1:]) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print()


COLUMNS = [(32, 1), (128, 1), (32, 2), (128, 2)]


def column_header(first):
    return [first] + [f"batch {b}, {t} thread{'s' if t > 1 else ''}" for b, t in COLUMNS]


def report_machine(res):
    m = res.select(part="machine")
    if m:
        m = m[-1]
        flags = ", ".join(f"{f} {'yes' if v else 'no'}" for f, v in m["flags"].items())
        print(f"Machine: {m['model_name']}, {m['cpus']} CPUs; {flags}; {m['semb_version']}")
    for t in (1, 2):
        p = res.peak(t)
        if p:
            print(f"fp32 peak, {t} thread{'s' if t > 1 else ''}: {p[0]:.1f} GFLOP/s ({p[1]}, bench_peak)")
    print()


def report_encode(res):
    if not res.select(part="encode"):
        return
    print("### a. Encoding (sentences/s, median over rounds)\n")
    engines = [("semb", "fp32"), ("semb", "bf16"), ("semb", "int8"), ("ort", "fp32"), ("torch", "fp32"),
               ("torch", "bf16")]
    vals = {(e, p, c): res.value(part="encode", engine=e, precision=p, batch=c[0], threads=c[1])
            for e, p in engines for c in COLUMNS}
    rows = []
    for e, p in engines:
        n = max(res.rounds(part="encode", engine=e, precision=p, batch=b, threads=t) for b, t in COLUMNS)
        rows.append([f"{ENGINE_NAMES[e]} {p} ({plural(n, 'round')})"] + [fmt(vals[(e, p, c)]) for c in COLUMNS])
    def best(c, anchors):
        return max((vals[(e, p, c)] for e, p in anchors if vals[(e, p, c)]), default=None)

    fp32_anchors = [("ort", "fp32"), ("torch", "fp32")]
    rows.append(["semb fp32 / ONNX Runtime fp32 (target ≥ 1.25)"] +
                [ratio(vals[("semb", "fp32", c)], vals[("ort", "fp32", c)]) for c in COLUMNS])
    rows.append(["semb fp32 / best fp32 anchor"] +
                [ratio(vals[("semb", "fp32", c)], best(c, fp32_anchors)) for c in COLUMNS])
    rows.append(["semb bf16 / best anchor, any precision (target ≥ 1.5)"] +
                [ratio(vals[("semb", "bf16", c)], best(c, fp32_anchors + [("torch", "bf16")])) for c in COLUMNS])
    rows.append(["semb int8 / ONNX Runtime fp32"] +
                [ratio(vals[("semb", "int8", c)], vals[("ort", "fp32", c)]) for c in COLUMNS])
    rows.append(["semb int8 / semb fp32"] +
                [ratio(vals[("semb", "int8", c)], vals[("semb", "fp32", c)]) for c in COLUMNS])
    for e, p in (("semb", "fp32"), ("ort", "fp32"), ("semb", "bf16")):
        cells = []
        for b, t in COLUMNS:
            g = med([res.gflops_real(r) for r in res.select(part="encode", engine=e, precision=p, batch=b, threads=t)])
            pk = res.peak(t)
            cells.append(f"{g:.0f} ({100 * g / pk[0]:.0f}%)" if g and pk else "n/a")
        rows.append([f"{ENGINE_NAMES[e]} {p}: GFLOP/s of real tokens (% of fp32 peak)"] + cells)
    table(column_header("sentences/s"), rows)


def report_train(res):
    if not res.select(part="train"):
        return
    print("### b. Training (pairs/s, median over rounds; peak RSS)\n")
    engines = [("semb", "fp32"), ("semb", "bf16"), ("torch", "fp32"), ("torch", "bf16")]
    rows = []
    vals = {}
    for e, p in engines:
        cells = []
        for b, t in COLUMNS:
            sel = res.select(part="train", engine=e, precision=p, batch=b, threads=t)
            v = vals[(e, p, b, t)] = med([r["thr_median"] for r in sel])
            rss = max((r["peak_rss_mb"] for r in sel), default=None)
            cells.append(f"{fmt(v)} ({rss:,.0f} MiB)" if v else "n/a")
        n = max(res.rounds(part="train", engine=e, precision=p, batch=b, threads=t) for b, t in COLUMNS)
        rows.append([f"{ENGINE_NAMES[e]} {p} ({plural(n, 'round')})"] + cells)
    for p in ("fp32", "bf16"):
        rows.append([f"semb {p} / PyTorch {p} (target ≥ 3)"] +
                    [ratio(vals[("semb", p, b, t)], vals[("torch", p, b, t)]) for b, t in COLUMNS])
    for e in ("semb", "torch"):
        cells = []
        for b, t in COLUMNS:
            g = med([x for x in (res.gflops_real(r) for r in res.select(part="train", engine=e, precision="fp32",
                                                                          batch=b, threads=t)) if x])
            pk = res.peak(t)
            cells.append(f"{g:.0f} ({100 * g / pk[0]:.0f}%)" if g and pk else "n/a")
        rows.append([f"{ENGINE_NAMES[e]} fp32: GFLOP/s of real tokens (% of fp32 peak; target ≥ 40%)"] + cells)
    table(column_header("pairs/s (peak RSS)"), rows)
    if res.train_sq_ratio:
        per_pair = 3 * forward_flops(res.shape, 1, res.train_sq_ratio)
        print(f"Real work: {per_pair / 1e6:.1f} MFLOP per training token (3 × forward; attention at "
              f"Σ L² / Σ L = {res.train_sq_ratio:.1f} tokens, from the training texts).\n")


def report_gradcache(res):
    sel = res.select(part="gradcache", engine="semb")
    if not sel:
        return
    print("### c. GradCache (2 threads, fp32)\n")
    plain = [r for r in sel if not r.get("mini")]
    cached = [r for r in sel if r.get("mini")]
    rows = []
    for name, rs in (("plain", plain), ("GradCache", cached)):
        for b in sorted({r["batch"] for r in rs}):
            sub = [r for r in rs if r["batch"] == b]
            steps = sum(r["timed_steps"] for r in sub)
            mini = f", mini-batch {sub[0]['mini']}" if sub[0].get("mini") else ""
            rows.append([f"{name}, batch {b:,}{mini} ({plural(len(sub), 'run')}, {plural(steps, 'timed step')})",
                         fmt(med([r["thr_median"] for r in sub])),
                         f"{max(r['peak_rss_mb'] for r in sub):,.0f} MiB"])
    p, c = med([r["thr_median"] for r in plain]), med([r["thr_median"] for r in cached])
    rss = max((r["peak_rss_mb"] for r in cached), default=None)
    rows.append(["GradCache / plain (target ≥ 0.80; RSS < 2,048 MiB)", ratio(c, p),
                 f"{'< 2 GiB' if rss and rss < 2048 else '≥ 2 GiB'}" if rss else "n/a"])
    table(["", "pairs/s", "peak RSS"], rows)
    report_step_parts(plain, cached)


def report_step_parts(plain, cached):
    """Where the time of a step goes, per 1,000 pairs, and the ratio GradCache could reach
    if its first pass cost exactly one forward pass: (F + B + O) / (2F + B + O/k), F, B, O
    plain training's forward, backward and optimizer time per pair and k the ratio of the
    batch sizes (GradCache updates the weights k times less often)."""
    def parts(rs):
        timed = [s for r in rs for s in (r["steps"][1:] or r["steps"]) if "forward_s" in s]
        if not timed:
            return None
        per = 1000 / rs[0]["batch"]  # means, so that the parts add up to the step
        out = {k: per * statistics.fmean(s.get(k, 0) for s in timed) for k in STEP_PARTS + ["step_s"]}
        out["other_s"] = out["step_s"] - sum(out[k] for k in STEP_PARTS)
        return out
    p, c = parts(plain), parts(cached)
    if not p or not c:
        return
    print("Where the time goes, seconds per 1,000 pairs (mean over timed steps; `--log` fields):\n")
    names = ["data", "first pass", "forward", "loss", "backward", "optimizer", "other", "step"]
    keys = STEP_PARTS + ["other_s", "step_s"]
    table([""] + names, [[n] + [f"{r[k]:.2f}" for k in keys] for n, r in (("plain", p), ("GradCache", c))])
    k = cached[0]["batch"] / plain[0]["batch"]
    bound = (p["forward_s"] + p["backward_s"] + p["optimizer_s"]) / \
        (2 * p["forward_s"] + p["backward_s"] + p["optimizer_s"] / k)
    print(f"Backward / forward: {p['backward_s'] / p['forward_s']:.2f} (plain). A first pass costing one "
          f"forward caps GradCache / plain at (F + B + O) / (2F + B + O/{k:.0f}) = {bound:.2f} with "
          f"plain's F, B, O; GradCache's first pass / its forward: {c['first_pass_s'] / c['forward_s']:.2f}.\n")


def report_data_share(res):
    sel = [r for r in res.rows if r.get("part") in ("train", "gradcache") and r.get("engine") == "semb"]
    if not sel:
        return
    print("### d. Data pipeline (reading + tokenizing) share of a training step, semb\n")
    groups = {}
    for r in sel:
        key = (r["part"], r.get("precision", "fp32"), r["batch"], r.get("mini", 0), r["threads"])
        groups.setdefault(key, []).append(r)
    rows = []
    for (part, p, b, mini, t), rs in sorted(groups.items(), key=lambda kv: (kv[0][0] != "train", kv[0])):
        timed = [s for r in rs for s in (r["steps"][1:] or r["steps"])]
        first = [r["steps"][0] for r in rs]
        rows.append([f"{p}, batch {b:,}{f', mini-batch {mini}' if mini else ''}, {t} thread{'s' if t > 1 else ''}",
                     f"{1e3 * med([s['data_s'] for s in timed]):.2f}",
                     f"{1e3 * med([s['step_s'] for s in timed]):.0f}",
                     f"{100 * med([s['data_s'] / s['step_s'] for s in timed]):.2f}%",
                     f"{100 * max(s['data_s'] / s['step_s'] for s in timed + first):.2f}%"])
    table(["config", "data ms/step (median)", "step ms (median)", "share (median; target ≤ 5%)",
           "share, worst step (first included)"], rows)


def report_scaling(res):
    rows = []
    for part, engines in (("encode", [("semb", "fp32"), ("semb", "bf16"), ("ort", "fp32"), ("torch", "fp32")]),
                          ("train", [("semb", "fp32"), ("semb", "bf16"), ("torch", "fp32")])):
        for e, p in engines:
            cells = [ratio(res.value(part=part, engine=e, precision=p, batch=b, threads=2),
                           res.value(part=part, engine=e, precision=p, batch=b, threads=1)) for b in (32, 128)]
            if any(c != "n/a" for c in cells):
                rows.append([f"{part}, {ENGINE_NAMES[e]} {p}"] + cells)
    if rows:
        print("### e. Thread scaling: 2 threads / 1 thread (target ≥ 1.8)\n")
        table(["", "batch 32", "batch 128"], rows)


def report_lengths(res):
    sel = res.select(part="lengths")
    if not sel:
        return
    t, b = sel[0]["threads"], sel[0]["batch"]
    print(f"### f. Length scaling (every sentence exactly L tokens; batch {b}, {t} threads, median over rounds)\n")
    rows = []
    for L in sorted({r["length"] for r in sel}):
        cells = [str(L)]
        got = {}
        for e in ("semb", "ort"):
            rs = res.select(part="lengths", engine=e, length=L)
            s = med([r["thr_median"] for r in rs])
            got[e] = s
            g = med([res.gflops_real(r) for r in rs])
            pk = res.peak(t)
            cells += [fmt(s), fmt(s * L if s else None, 0),
                      f"{g:.0f} ({100 * g / pk[0]:.0f}%)" if g and pk else "n/a"]
        cells.append(ratio(got["semb"], got["ort"]))
        rows.append(cells)
    table(["tokens", "semb sentences/s", "semb tokens/s", "semb GFLOP/s (% peak)", "ORT sentences/s",
           "ORT tokens/s", "ORT GFLOP/s (% peak)", "semb / ORT"], rows)


def train_sq_ratio(path):
    if not path:
        return None
    n = sq = 0
    for line in open(path):
        if line.strip():
            L = len(json.loads(line))
            n += L
            sq += L * L
    return sq / n if n else None


def cmd_report(a):
    res = Results(a.results, model_shape(a.model), train_sq_ratio(a.train_tokens))
    report_machine(res)
    for part in (report_encode, report_train, report_gradcache, report_data_share, report_scaling, report_lengths):
        part(res)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("add")
    p.add_argument("results")
    p.add_argument("tags", nargs="*")
    p = sub.add_parser("add-train")
    p.add_argument("results")
    p.add_argument("--log", required=True)
    p.add_argument("--rss-kb", type=float, required=True)
    p.add_argument("tags", nargs="*")
    p = sub.add_parser("add-peak")
    p.add_argument("results")
    p = sub.add_parser("add-machine")
    p.add_argument("results")
    p.add_argument("--semb-version", required=True)
    p = sub.add_parser("report")
    p.add_argument("results")
    p.add_argument("--model", required=True, help="the benchmarked model folder (its config.json)")
    p.add_argument("--train-tokens", help="token ids of the training texts, a JSON array a line")
    a = ap.parse_args()
    {"add": cmd_add, "add-train": cmd_add_train, "add-peak": cmd_add_peak, "add-machine": cmd_add_machine,
     "report": cmd_report}[a.cmd](a)


if __name__ == "__main__":
    main()
