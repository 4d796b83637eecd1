#!/usr/bin/python3
"""Driver of scripts/bench.sh: the toolkit against the plain-PyTorch reference.

For each workload of ../shared/bench/BENCHMARKS.md (toy2d, tabular8, fmnist)
and each repetition it runs every phase (train, sample, nll) once with the
reference (cfm_ref.py through ref_runner.py) and once with the toolkit's
programs (fm-train, fm-sample, fm-eval), one process per phase and side,
alternating which side goes first from one repetition to the next so that
both see the same machine load. Each phase's time is the one the program
measures around the phase alone (the reference's own timers; fm-train's
metrics.jsonl "seconds", fm-sample's sample_run.seconds, fm-eval's
"seconds"); peak resident memory comes from wait4() on each process.

It also measures the float32 matrix-multiply rate (torch.mm, the same
LibTorch and BLAS both sides use) at the workloads' shapes, reports each
phase's matrix-product FLOP/s as a fraction of it, checks that training loss
and test NLL agree between the two sides within noise, and writes
results.json and results.md. Run with Debian's interpreter (it imports torch
and numpy only to measure the matrix-multiply rate and sample quality).
"""
import argparse
import datetime
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

# The workloads of cfm_ref.py's CFG, as the toolkit runs them.
WORKLOADS = {
    "toy2d": dict(dim=2, hidden=256, depth=4, batch=512, steps=2000, n_samples=10000,
                  euler=100, rk4=25, nll_n=2000, nll_steps=50, unit="nats"),
    "tabular8": dict(dim=8, hidden=512, depth=3, batch=1024, steps=1000, n_samples=10000,
                     euler=100, rk4=25, nll_n=10000, nll_steps=50, unit="nats"),
    "fmnist": dict(dim=784, batch=64, steps=50, n_samples=16, euler=20, rk4=None, nll_n=64,
                   nll_steps=10, unit="bits/dim"),
}

# Matrix-multiply shapes (M, K, N) whose rate each phase is compared with:
# the products that dominate the phase. fmnist's convolutions are no single
# product; they are compared with the best rate measured here.
RATE_SHAPES = {
    ("toy2d", "train"): (512, 256, 256),
    ("toy2d", "sample"): (10000, 256, 256),
    ("toy2d", "nll"): (2000, 256, 256),
    ("tabular8", "train"): (1024, 512, 512),
    ("tabular8", "sample"): (10000, 512, 512),
    ("tabular8", "nll"): (10000, 512, 512),
}


# ----------------------------------------------------------------------------
# Matrix-product work per unit of each phase (multiply-adds; FLOPs = 2 x MACs)
# ----------------------------------------------------------------------------
def mlp_forward_macs(d, h, depth):
    """One row through concat(x, t) -> depth x Linear(., h) -> Linear(h, d)."""
    return (d + 1) * h + (depth - 1) * h * h + h * d


def unet_forward_macs():
    """One 1x28x28 image through cfm_ref.py's U-Net (convolutions and linears)."""
    macs = 32 * 128 + 128 * 128  # time MLP

    def conv(hw, cin, cout, k):
        return hw * hw * cin * cout * k * k

    def res(hw, cin, cout):
        skip = conv(hw, cin, cout, 1) if cin != cout else 0
        return conv(hw, cin, cout, 3) + 128 * cout + conv(hw, cout, cout, 3) + skip

    macs += conv(28, 1, 32, 3)
    macs += res(28, 32, 32) + conv(14, 32, 32, 3)  # level 0, Down to 14x14
    macs += res(14, 32, 64) + conv(7, 64, 64, 3)  # level 1, Down to 7x7
    macs += res(7, 64, 64) + 2 * res(7, 64, 64)  # level 2, mid1, mid2
    macs += res(7, 128, 64) + conv(14, 64, 64, 3)  # up level 2, Up to 14x14
    macs += res(14, 128, 64) + conv(28, 64, 64, 3)  # up level 1, Up to 28x28
    macs += res(28, 96, 32) + conv(28, 32, 1, 3)  # up level 0, conv_out
    return macs


def work_flops(workload, phase, solver=None):
    """Matrix-product FLOPs per unit: per train step, per sample, per NLL point.
    Counted as the reference does the work: exact NLL = forward + d full
    reverse passes per evaluation; Hutchinson = forward + one VJP; training =
    forward + backward (weights and activations, no input gradient)."""
    w = WORKLOADS[workload]
    if workload == "fmnist":
        f = unet_forward_macs()
        if phase == "train":
            return 2 * 3 * f * w["batch"]
        if phase == "sample":
            return 2 * f * w["euler"]
        return 2 * 2 * f * 4 * w["nll_steps"]
    d, h, depth = w["dim"], w["hidden"], w["depth"]
    f = mlp_forward_macs(d, h, depth)
    if phase == "train":
        return 2 * (3 * f - (d + 1) * h) * w["batch"]
    if phase == "sample":
        nfe = w["euler"] if solver == "euler" else 4 * w["rk4"]
        return 2 * f * nfe
    return 2 * (d + 1) * f * 4 * w["nll_steps"]


# ----------------------------------------------------------------------------
# Running and measuring processes
# ----------------------------------------------------------------------------
def run(cmd, log_path, env=None):
    """Runs cmd to completion; returns (wall seconds, peak RSS in MiB). Raises on failure."""
    start = time.perf_counter()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=REPO, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        with open(log_path) as log:
            tail = log.read()[-3000:]
        raise RuntimeError(f"{' '.join(cmd)} failed with exit code {proc.returncode}:\n{tail}")
    return wall, usage.ru_maxrss / 1024.0


def loss_tail(losses, n):
    """Mean of the last n per-step losses and its standard error."""
    tail = losses[-n:]
    mean = statistics.fmean(tail)
    se = statistics.stdev(tail) / math.sqrt(len(tail)) if len(tail) > 1 else float("nan")
    return mean, se


class Bench:
    def __init__(self, args):
        self.args = args
        self.work = args.work
        self.env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
        self.runs = []  # one record per (workload, side, phase, rep)

    def path(self, *parts):
        return os.path.join(self.work, *parts)

    def record(self, **kw):
        self.runs.append(kw)
        shown = {k: (round(v, 4) if isinstance(v, float) else v)
                 for k, v in kw.items() if k not in ("losses",)}
        print("bench:", json.dumps(shown), flush=True)

    # -- the reference --------------------------------------------------------
    def ref(self, wl, phase, rep, nll_n, steps):
        ckpt = self.path(f"ref-{wl}.pt")
        out = self.path(f"ref-{wl}-{phase}-{rep}.json")
        losses = self.path(f"ref-{wl}-losses.json")
        cmd = [sys.executable, os.path.join(HERE, "ref_runner.py"), "--ref", self.args.ref]
        if phase == "train":
            cmd += ["--losses", losses]
        if phase == "nll" and nll_n:
            cmd += ["--nll-n", str(nll_n)]
        cmd += ["--", "--workload", wl, "--phase", phase, "--threads", str(self.args.threads),
                "--ckpt", ckpt, "--out", out]
        if phase == "train" and steps:
            cmd += ["--steps", str(steps)]
        _, rss = run(cmd, out + ".log", self.env)
        with open(out) as f:
            res = json.load(f)
        w = WORKLOADS[wl]
        if phase == "train":
            with open(losses) as f:
                per_step = json.load(f)
            mean, se = loss_tail(per_step, max(1, min(100, len(per_step) // 10)))
            self.record(workload=wl, side="ref", phase="train", rep=rep, rss_mib=rss,
                        rate=res["train_steps_per_s"], loss=mean, loss_se=se)
        elif phase == "sample":
            for solver, rate in res["samples_per_s"].items():
                self.record(workload=wl, side="ref", phase="sample_" + solver, rep=rep,
                            rss_mib=rss, rate=rate,
                            energy_distance=res["sample_quality"].get(
                                "energy_distance_" + solver))
        else:
            nll = res["nll"]
            self.record(workload=wl, side="ref", phase="nll", rep=rep, rss_mib=rss,
                        rate=nll["points_per_s"], nll=nll["mean"], nll_se=nll["stderr"],
                        n=nll["n"], true_nll=res.get("true_nll", {}).get("mean"))

    # -- the toolkit ----------------------------------------------------------
    def tk_common(self):
        return ["--threads", str(self.args.threads), "--log-level", "warn"]

    def tk(self, wl, phase, rep, nll_n, steps):
        bin_dir = self.args.build
        run_dir = self.path(f"tk-{wl}")
        ckpt = os.path.join(run_dir, "checkpoints", "latest.pt")
        w = WORKLOADS[wl]
        if phase == "train":
            shutil.rmtree(run_dir, ignore_errors=True)
            cmd = [os.path.join(bin_dir, "fm-train"), "--config",
                   os.path.join(HERE, wl + ".json"), "--out", run_dir] + self.tk_common()
            if steps:
                cmd += ["--set", f"train.steps={steps}", "--set", f"train.checkpoint_every={steps}"]
            _, rss = run(cmd, run_dir + "-train.log", self.env)
            with open(os.path.join(run_dir, "metrics.jsonl")) as f:
                rows = [json.loads(line) for line in f]
            mean, se = tk_loss_tail(rows, max(1, min(100, rows[-1]["step"] // 10)))
            self.record(workload=wl, side="toolkit", phase="train", rep=rep, rss_mib=rss,
                        rate=rows[-1]["step"] / rows[-1]["seconds"], loss=mean, loss_se=se)
        elif phase == "sample":
            for solver in ("euler", "rk4"):
                steps = w[solver]
                if not steps:
                    continue
                out = self.path(f"tk-{wl}-{solver}.npy")
                cmd = [os.path.join(bin_dir, "fm-sample"), "--checkpoint", ckpt, "--solver",
                       solver, "--steps", str(steps), "--num", str(w["n_samples"]), "--out",
                       out] + self.tk_common()
                _, rss = run(cmd, out + ".log", self.env)
                with open(out + ".config.json") as f:
                    seconds = json.load(f)["sample_run"]["seconds"]
                self.record(workload=wl, side="toolkit", phase="sample_" + solver, rep=rep,
                            rss_mib=rss, rate=w["n_samples"] / seconds,
                            energy_distance=self.energy_distance(wl, out))
        else:
            out = self.path(f"tk-{wl}-nll.json")
            cmd = [os.path.join(bin_dir, "fm-eval"), "--checkpoint", ckpt, "--json", out]
            if nll_n:
                cmd += ["--limit", str(nll_n), "--batch-size", str(nll_n)]
            _, rss = run(cmd + self.tk_common(), out + ".log", self.env)
            with open(out) as f:
                res = json.load(f)
            mean = res.get("bits_per_dim", res["nll_nats"])
            se = res.get("bits_per_dim_stderr", res["nll_stderr"])
            self.record(workload=wl, side="toolkit", phase="nll", rep=rep, rss_mib=rss,
                        rate=res["n"] / res["seconds"], nll=mean, nll_se=se, n=res["n"])

    def energy_distance(self, wl, npy):
        """The reference's energy distance of the toolkit's samples to the same target
        (cfm_ref.energy_distance, computed in a child process: the driver stays small)."""
        if wl == "fmnist":
            return None
        out = npy + ".energy.json"
        run([sys.executable, os.path.abspath(__file__), "--energy-distance", wl, npy,
             "--ref", self.args.ref, "--out", out], out + ".log", self.env)
        with open(out) as f:
            return json.load(f)["energy_distance"]


def energy_distance_main(wl, npy, ref, out):
    import numpy as np
    import torch
    sys.path.insert(0, os.path.abspath(ref))
    import cfm_ref
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    x = torch.from_numpy(np.load(npy).astype(np.float32))
    if wl == "toy2d":
        torch.manual_seed(10_000 + 0)  # cfm_ref.py's target for seed 0
        target = cfm_ref.sample_moons(len(x))
    else:
        target = torch.from_numpy(np.load(os.path.join(ref, "data", "tabular8_test.npy")))
    with open(out, "w") as f:
        json.dump({"energy_distance": cfm_ref.energy_distance(x, target)}, f)


def tk_loss_tail(rows, n):
    """Mean loss of fm-train's last n steps and its standard error, from the
    metrics rows (each the mean of log_every steps; log_every divides n)."""
    last = rows[-1]["step"]
    tail = [r["loss"] for r in rows if r["step"] > last - n]
    mean = statistics.fmean(tail)
    se = statistics.stdev(tail) / math.sqrt(len(tail)) if len(tail) > 1 else float("nan")
    return mean, se


# ----------------------------------------------------------------------------
# Matrix-multiply rate
# ----------------------------------------------------------------------------
def matmul_rates(shapes, threads, work):
    """torch.mm's rate at each shape, measured in a child process (the driver
    stays small: children inherit its peak memory figure until they exec)."""
    out = os.path.join(work, "matmul.json")
    spec = ",".join("x".join(map(str, s)) for s in shapes)
    run([sys.executable, os.path.abspath(__file__), "--matmul", spec, "--threads", str(threads),
         "--ref", "-", "--out", out], out + ".log", dict(os.environ, OMP_NUM_THREADS=str(threads)))
    with open(out) as f:
        return json.load(f)


def matmul_main(spec, threads, out, seconds=0.25, repeats=5):
    import torch
    torch.set_num_threads(threads)
    rates = {}
    for m, k, n in (tuple(map(int, shape.split("x"))) for shape in spec.split(",")):
        a, b, c = torch.randn(m, k), torch.randn(k, n), torch.empty(m, n)
        flops = 2.0 * m * k * n
        torch.mm(a, b, out=c)
        iters = max(3, int(seconds * 100e9 / flops))
        samples = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            for _ in range(iters):
                torch.mm(a, b, out=c)
            samples.append(flops * iters / (time.perf_counter() - t0))
        rates[f"{m}x{k}x{n}"] = statistics.median(samples)
    with open(out, "w") as f:
        json.dump(rates, f)


# ----------------------------------------------------------------------------
# Summary: medians, ratios, FLOP fractions, memory, quality
# ----------------------------------------------------------------------------
PHASES = [("train", "train steps/s"), ("sample_euler", "sample/s Euler"),
          ("sample_rk4", "sample/s RK4"), ("nll", "NLL points/s")]

# Minimum median ratio toolkit / reference per (workload, phase); 1.0 elsewhere.
TARGETS = {
    ("toy2d", "train"): 1.5, ("tabular8", "train"): 1.25, ("fmnist", "train"): 1.2,
    ("toy2d", "nll"): 1.4, ("tabular8", "nll"): 1.2, ("fmnist", "nll"): 1.2,
    ("toy2d", "sample_euler"): 1.1, ("toy2d", "sample_rk4"): 1.1,
    ("tabular8", "sample_euler"): 1.1, ("tabular8", "sample_rk4"): 1.1,
    ("fmnist", "sample_euler"): 1.1,
}


def select(runs, **kw):
    return [r for r in runs if all(r.get(k) == v for k, v in kw.items())]


def summarize(runs, rates, steps_by_rep):
    best_rate = max(rates.values())
    rows = []
    for wl in WORKLOADS:
        for phase, label in PHASES:
            ref = select(runs, workload=wl, side="ref", phase=phase)
            tk = select(runs, workload=wl, side="toolkit", phase=phase)
            if not ref or not tk:
                continue
            ratios = [t["rate"] / r["rate"] for r, t in
                      zip(sorted(ref, key=lambda r: r["rep"]), sorted(tk, key=lambda r: r["rep"]))]
            base = phase.split("_")[0]
            solver = phase.split("_")[1] if "_" in phase else None
            shape = RATE_SHAPES.get((wl, base))
            peak = rates["x".join(map(str, shape))] if shape else best_rate
            flops = work_flops(wl, base, solver)
            row = dict(workload=wl, phase=phase, label=label,
                       ref=statistics.median(r["rate"] for r in ref),
                       toolkit=statistics.median(t["rate"] for t in tk),
                       ratio=statistics.median(ratios), ratios=ratios,
                       target=TARGETS.get((wl, phase), 1.0),
                       rate_shape=("x".join(map(str, shape)) if shape else "best"),
                       rss_ref=max(r["rss_mib"] for r in ref),
                       rss_toolkit=max(t["rss_mib"] for t in tk))
            row["flop_fraction_ref"] = row["ref"] * flops / peak
            row["flop_fraction_toolkit"] = row["toolkit"] * flops / peak
            row["met"] = row["ratio"] >= row["target"] and row["rss_toolkit"] <= row["rss_ref"]
            rows.append(row)
    return rows


def agree(a, a_se, b, b_se, k=3.0):
    return abs(a - b) <= k * math.hypot(a_se, b_se)


def quality(runs):
    """Loss and NLL of the first repetition (full training) on both sides."""
    out = []
    for wl in WORKLOADS:
        for what, phase, se_key in (("final train loss", "train", "loss_se"),
                                    ("test NLL", "nll", "nll_se")):
            key = "loss" if phase == "train" else "nll"
            ref = select(runs, workload=wl, side="ref", phase=phase, rep=0)
            tk = select(runs, workload=wl, side="toolkit", phase=phase, rep=0)
            if not ref or not tk:
                continue
            r, t = ref[0], tk[0]
            row = dict(workload=wl, what=what, ref=r[key], ref_se=r[se_key], toolkit=t[key],
                       toolkit_se=t[se_key], unit=(WORKLOADS[wl]["unit"] if phase == "nll"
                                                   else "mse"))
            row["pass"] = agree(r[key], r[se_key], t[key], t[se_key])
            if phase == "nll":
                row["n"] = t["n"]
                if r.get("true_nll") is not None:
                    row["true_nll"] = r["true_nll"]
            out.append(row)
        for solver in ("euler", "rk4"):
            ref = select(runs, workload=wl, side="ref", phase="sample_" + solver, rep=0)
            tk = select(runs, workload=wl, side="toolkit", phase="sample_" + solver, rep=0)
            if ref and tk and ref[0].get("energy_distance") is not None:
                out.append(dict(workload=wl, what=f"energy distance ({solver})",
                                ref=ref[0]["energy_distance"],
                                toolkit=tk[0]["energy_distance"], info=True))
    return out


def fmt_rate(x):
    return f"{x:,.0f}" if x >= 100 else f"{x:.2f}" if x < 10 else f"{x:.1f}"


def markdown(summary, qual, meta):
    lines = [f"Measured {meta['date']} on {meta['machine']}; {meta['threads']} threads per "
             f"process, {meta['reps']} alternating repetitions, medians. BLAS: {meta['blas']}. "
             f"Load average {meta['load_start']:.2f} at the start, {meta['load_end']:.2f} at "
             "the end.", "",
             "| workload | phase | reference | toolkit | ratio | target | FLOP fraction "
             "ref / toolkit | peak RSS MiB ref / toolkit | met |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in summary:
        lines.append(
            f"| {r['workload']} | {r['label']} | {fmt_rate(r['ref'])} | "
            f"{fmt_rate(r['toolkit'])} | **{r['ratio']:.2f}x** | >= {r['target']:.2f} | "
            f"{r['flop_fraction_ref']:.0%} / {r['flop_fraction_toolkit']:.0%} | "
            f"{r['rss_ref']:.0f} / {r['rss_toolkit']:.0f} | {'yes' if r['met'] else 'NO'} |")
    lines += ["", "Matrix-multiply rate (torch.mm, float32, GFLOP/s): " + ", ".join(
        f"{k} {v / 1e9:.0f}" for k, v in meta["matmul_rates"].items()) +
        ". FLOP fraction = the phase's matrix-product FLOP/s (the reference's work: exact "
        "NLL as forward + d reverse passes) over the rate at the phase's dominant shape "
        "(fmnist: over the best rate).", "",
        "| workload | quality check | reference | toolkit | agree |", "|---|---|---|---|---|"]
    for q in qual:
        if q.get("info"):
            lines.append(f"| {q['workload']} | {q['what']} | {q['ref']:.4f} | "
                         f"{q['toolkit']:.4f} | (info) |")
            continue
        extra = f" (true mixture {q['true_nll']:.3f})" if "true_nll" in q else ""
        n = f", n={q['n']}" if "n" in q else ""
        lines.append(f"| {q['workload']} | {q['what']} ({q['unit']}{n}) | "
                     f"{q['ref']:.4f} +- {q['ref_se']:.4f}{extra} | "
                     f"{q['toolkit']:.4f} +- {q['toolkit_se']:.4f} | "
                     f"{'PASS' if q['pass'] else 'FAIL'} |")
    lines += ["", "Agree: |difference| <= 3 combined standard errors (loss: over the last "
              "min(100, steps/10) steps; NLL: over the test points)."]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------
def parse_map(text):
    out = {}
    for item in filter(None, (text or "").split(",")):
        key, value = item.split("=")
        out[key] = int(value)
    return out


def machine_info(build):
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


# OpenBLAS kernel sets with AVX2 or wider. OpenBLAS picks its kernels by CPU
# model, and Debian 12's 0.3.21 takes models newer than it (seen: Intel family 6
# model 207) for a generic "Prescott" (SSE3), whose products ran at 60 GFLOP/s
# there on two threads against 222-287 with OPENBLAS_CORETYPE=SkylakeX. The
# same list as openblas_below_cpu() in apps/common/program.cpp.
MODERN_OPENBLAS_CORES = {"haswell", "skylakex", "cooperlake", "sapphirerapids", "zen", "dhyana",
                         "excavator"}


def openblas_core():
    """The kernel set OpenBLAS picks in a child of this environment ('' if the
    system BLAS is not OpenBLAS)."""
    code = ("import ctypes\n"
            "lib = ctypes.CDLL('libblas.so.3')\n"
            "f = getattr(lib, 'openblas_get_corename', None)\n"
            "if f:\n"
            "    f.restype = ctypes.c_char_p\n"
            "    print(f().decode())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return out.stdout.strip()


def tune_openblas():
    """Where OpenBLAS runs kernels older than this CPU's AVX2 or AVX-512, names
    the right ones in OPENBLAS_CORETYPE for every process of the run (both
    sides), as a PyTorch user who looked would. Returns what the results say
    of it."""
    core = openblas_core()
    if not core:
        return ""
    if "OPENBLAS_CORETYPE" in os.environ:
        return f"OpenBLAS {core} (OPENBLAS_CORETYPE from the caller)"
    flags = set()
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    if "avx2" not in flags or core.lower() in MODERN_OPENBLAS_CORES:
        return f"OpenBLAS {core}"
    wanted = ("SkylakeX" if {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= flags
              else "Haswell")
    os.environ["OPENBLAS_CORETYPE"] = wanted
    taken = openblas_core()  # a build without runtime dispatch ignores the variable
    if taken.lower() != wanted.lower():
        del os.environ["OPENBLAS_CORETYPE"]
        print(f"bench: warning: OpenBLAS runs its '{core}' kernels on this CPU and did not "
              f"take OPENBLAS_CORETYPE={wanted}; the reference's products are slow here",
              flush=True)
        return f"OpenBLAS {core} (older than this CPU; OPENBLAS_CORETYPE not taken)"
    print(f"bench: OpenBLAS took this CPU for '{core}'; both sides run with "
          f"OPENBLAS_CORETYPE={wanted}", flush=True)
    return (f"OpenBLAS {taken} (OPENBLAS_CORETYPE={wanted}, set by the bench: OpenBLAS "
            f"took this CPU for '{core}')")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", help="folder with fm-train, fm-sample, fm-eval")
    ap.add_argument("--ref", required=True, help="folder with cfm_ref.py and data/")
    ap.add_argument("--out", required=True, help="folder for results.json and results.md")
    ap.add_argument("--work", help="scratch folder")
    ap.add_argument("--matmul", help=argparse.SUPPRESS)  # child: matrix-multiply rates
    ap.add_argument("--energy-distance", nargs=2, help=argparse.SUPPRESS)  # child: WL NPY
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workloads", default="toy2d,tabular8,fmnist")
    ap.add_argument("--later-train-steps", default="",
                    help="e.g. tabular8=300: training steps of repetitions after the first")
    ap.add_argument("--nll-n", default="", help="e.g. tabular8=2000: NLL on the first N points")
    args = ap.parse_args()
    if args.matmul:
        return matmul_main(args.matmul, args.threads, args.out)
    if args.energy_distance:
        return energy_distance_main(*args.energy_distance, args.ref, args.out)
    os.makedirs(args.work, exist_ok=True)
    os.makedirs(args.out, exist_ok=True)
    later_steps, nll_n = parse_map(args.later_train_steps), parse_map(args.nll_n)
    workloads = args.workloads.split(",")

    started = time.time()
    blas_core = tune_openblas()  # before any child starts: both sides inherit it
    meta = dict(date=datetime.date.today().isoformat(), machine=machine_info(args.build),
                threads=args.threads, reps=args.reps, load_start=os.getloadavg()[0],
                blas=os.path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3") +
                (f", {blas_core}" if blas_core else ""),
                later_train_steps=later_steps, nll_n=nll_n)
    print(f"bench: {meta['machine']}; load {meta['load_start']:.2f}", flush=True)
    shapes = sorted(set(RATE_SHAPES.values()) | {(2000, 512, 512)})
    meta["matmul_rates"] = matmul_rates(shapes, args.threads, args.work)
    print("bench: matmul GFLOP/s", {k: round(v / 1e9) for k, v in meta["matmul_rates"].items()},
          flush=True)

    bench = Bench(args)
    for rep in range(args.reps):
        order = ["ref", "toolkit"] if rep % 2 == 0 else ["toolkit", "ref"]
        for wl in workloads:
            steps = later_steps.get(wl) if rep > 0 else None
            for phase in ("train", "sample", "nll"):
                for side in order:
                    if side == "ref":
                        bench.ref(wl, phase, rep, nll_n.get(wl), steps)
                    else:
                        bench.tk(wl, phase, rep, nll_n.get(wl), steps)
        print(f"bench: repetition {rep + 1}/{args.reps} done, load {os.getloadavg()[0]:.2f}",
              flush=True)

    meta["load_end"] = os.getloadavg()[0]
    meta["wall_s"] = time.time() - started
    summary = summarize(bench.runs, meta["matmul_rates"], later_steps)
    qual = quality(bench.runs)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(dict(meta=meta, summary=summary, quality=qual, runs=bench.runs), f, indent=1)
    text = markdown(summary, qual, meta)
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(text)
    print(text)
    met = all(r["met"] for r in summary) and all(q.get("pass", True) for q in qual)
    print(f"bench: {'all targets met' if met else 'some targets NOT met'}; "
          f"{meta['wall_s']:.0f} s", flush=True)


if __name__ == "__main__":
    main()
