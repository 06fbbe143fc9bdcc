"""The GPU path measured in one run: every figure a ratio against a baseline of the same run.

    python benchmarks/device_check.py OUT_DIR            # on the GPU machine (< 8 minutes)
    python benchmarks/device_check.py OUT_DIR --small    # CPU dry run: every section end to end
    bash benchmarks/device_check.sh OUT_DIR              # installs benchbase offline, then this

Writes ``OUT_DIR/device_check.json`` and ``OUT_DIR/device_check.md`` (one row per figure:
baseline, ours, ratio, target, verdict). Sections (issue 15):

1. extraction img/s of the full pipeline (JPEG decode → resize → normalise → bf16
   channels_last forward → pooled taps → cache write) on generated VOC-sized JPEGs vs the
   bare forward on device-resident tensors, ResNet-50 and EfficientNet-Lite0 (random init:
   throughput does not depend on the weights), with the decode ceiling named;
2. decode img/s: PIL in DataLoader workers on every core vs batched ``decode_jpeg`` on CUDA
   (and the pixel difference against PIL);
3. the C sweeps of ``linear-svm`` (VOC07 size) and ``logreg`` (SUN-397 size): torch on the
   GPU vs scikit-learn on the CPU (run in background processes while the GPU sections run),
   with both test scores;
4. a small suite (fake Caltech-101, two strategies) on ``--device cuda`` and ``--device cpu``:
   stored metrics compared;
5. ``torch.compile`` on vs off on the GPU, with the break-even image count;
6. a ``finetune`` cell under ``torchrun --nproc_per_node 1`` (NCCL) vs the plain run;
7. CNNaug's 16 views and Oquab's patch grid cut on the GPU vs the forward of the same
   batches (``bench_views.py``), with the host float path as the baseline.

A section that cannot run here (no CUDA, no torchrun backend) is recorded as skipped with the
reason; a section that fails is recorded with its error and the others still run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from _common import machine  # noqa: E402

CUDA = torch.cuda.is_available()
DEVICE = torch.device("cuda" if CUDA else "cpu")
SKIP_NO_CUDA = "skipped: no CUDA device on this machine"


class Sizes:
    """What each section runs on: the issue's sizes, or a CPU dry run's (``--small``)."""

    def __init__(self, small: bool) -> None:
        self.small = small
        self.images = 64 if small else 20_000
        self.distinct = 16 if small else 512  # distinct JPEGs, hard-linked to `images` files
        self.image_size = (250, 188) if small else (500, 375)
        self.input_size = 64 if small else 224
        self.voc = (300, 256, 20) if small else (5011, 2048, 20)  # train rows, dims, labels
        self.sun = (400, 256, 40) if small else (19850, 2048, 397)
        self.compile_images = 64 if small else 4096
        self.suite_size = 32 if small else 96


def row(name: str, baseline: str, base: float | None, ours: str, value: float | None,
        unit: str, higher_is_better: bool = True, target: str = "", **extra: Any) -> dict:  # fmt: skip
    ratio = None
    if base and value:
        ratio = value / base if higher_is_better else base / value
    return {
        "name": name, "baseline": baseline, "baseline_value": base, "ours": ours,
        "value": value, "unit": unit, "ratio": ratio, "target": target, **extra,
    }  # fmt: skip


# --- data --------------------------------------------------------------------------------


def jpegs(root: Path, sizes: Sizes) -> list:
    """``sizes.images`` JPEG files: ``distinct`` generated ones, hard-linked (same bytes to
    decode, no minutes spent encoding 20,000 images)."""
    from benchbase.api.types import Sample
    from benchbase.testing import save_image, synthetic_image

    first = []
    for i in range(sizes.distinct):
        path = root / "distinct" / f"{i:05d}.jpg"
        save_image(synthetic_image(i % 10, 10, seed=i, size=sizes.image_size), path)
        first.append(path)
    samples = []
    for i in range(sizes.images):
        path = root / "all" / f"{i:06d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(first[i % len(first)], path)
        except OSError:
            shutil.copyfile(first[i % len(first)], path)
        samples.append(Sample(str(path), i % 10))
    return samples


# --- 1. extraction -----------------------------------------------------------------------


def bare_forward(backbone: Any, model: torch.nn.Module, size: int, batch: int, n: int) -> float:
    """img/s of the forward alone on device-resident tensors (bf16, channels_last)."""
    from benchbase.extract.device import autocast
    from benchbase.extract.features import TapExtractor

    model = model.eval().to(DEVICE).to(memory_format=torch.channels_last)
    taps = backbone.taps()
    ex = TapExtractor(model, {backbone.default_layer: taps[backbone.default_layer]})
    x = torch.randn(batch, 3, size, size, device=DEVICE).contiguous(
        memory_format=torch.channels_last
    )
    steps = max(3, n // batch)
    with torch.inference_mode(), autocast(DEVICE):
        for _ in range(2):
            ex(x)
        sync()
        start = time.perf_counter()
        for _ in range(steps):
            ex(x)
        sync()
    ex.close()
    return steps * batch / (time.perf_counter() - start)


def sync() -> None:
    if CUDA:
        torch.cuda.synchronize()


def pipeline_run(backbone: Any, model: torch.nn.Module, samples: list, size: int,
                 out: Path, decoder: str) -> tuple[float, int]:  # fmt: skip
    """img/s of ``features.extract`` from the JPEG files to the feature cache file."""
    from benchbase.api.types import open_image_file
    from benchbase.extract.cache import FeatureCache
    from benchbase.extract.features import extract

    cache = FeatureCache(out / "features")
    layer = backbone.default_layer
    writer = cache.writer(cache.key({"run": str(out), "decoder": decoder}), {})
    start = time.perf_counter()
    stats = extract(backbone, model, [layer], samples, open_image_file, {layer: writer},
                    DEVICE, input_size=size, decoder=decoder)  # fmt: skip
    writer.commit()
    return len(samples) / (time.perf_counter() - start), stats.batch_size


def section_extraction(
    sizes: Sizes, samples: list, work: Path, decode_ceiling: float | None
) -> list:
    from benchbase.api.types import open_image_file
    from benchbase.extract.backbones import resolve
    from benchbase.extract.jpegdecode import resolve_decoder
    from benchbase.plugin.manager import Host

    host = Host(entry_points=False)
    rows = []
    decoder = resolve_decoder("auto", DEVICE, open_image_file)
    for name in ("timm/resnet50:random", "timm/tf_efficientnet_lite0:random"):
        spec = resolve(host, name)
        model = spec.build()
        ips, batch = pipeline_run(
            spec.backbone, model, samples, sizes.input_size, work / name.replace("/", "_"), decoder
        )
        bare = bare_forward(spec.backbone, model, sizes.input_size, batch, min(len(samples), 4096))
        limit = ""
        if decode_ceiling and ips / bare < 0.9:
            limit = (
                f"decode ceiling {decode_ceiling:.0f} img/s"
                if ips >= 0.9 * decode_ceiling
                else "below both"
            )
        rows.append(row(f"1. extraction {name} @{sizes.input_size}, {len(samples)} JPEGs, decoder {decoder}",
                        "bare forward (device tensors)", bare, "full pipeline", ips, "img/s",
                        target=">= 0.9x bare forward, or the decode ceiling", batch_size=batch, limit=limit))  # fmt: skip
    return rows


# --- 2. decode ---------------------------------------------------------------------------


def section_decode(sizes: Sizes, samples: list) -> tuple[list, float | None]:
    from benchbase.api.types import open_image_file
    from benchbase.extract import jpegdecode, pipeline
    from benchbase.extract.device import available_cores
    from benchbase.extract.images import ImageList, resize_crop

    size, crop = sizes.input_size, 0.875
    transform = resize_crop(size, crop, "bilinear")
    workers = max(1, available_cores() - 1)
    pil = ImageList(samples, open_image_file, transform)
    start = time.perf_counter()
    for _ in pipeline.batches(pil, 256, workers):
        pass
    pil_ips = len(samples) / (time.perf_counter() - start)
    rows = [
        row(
            f"2. decode+resize PIL, {workers} DataLoader workers", "", None, "PIL", pil_ips, "img/s"
        )
    ]
    if not CUDA:
        rows.append(
            row(
                "2. decode+resize batched nvJPEG",
                "PIL workers",
                pil_ips,
                "nvJPEG",
                None,
                "img/s",
                verdict=SKIP_NO_CUDA,
            )
        )
        return rows, pil_ips
    decoder = jpegdecode.BatchDecoder(size, crop, "bilinear", DEVICE, fallback=pil.__getitem__)
    encoded = jpegdecode.EncodedImages(samples, open_image_file, transform)
    loader = lambda: pipeline.batches(encoded, 256, workers, collate=jpegdecode.keep_list)  # noqa: E731
    for start_row, items in loader():  # warm-up: CUDA context, nvJPEG handles
        decoder(items, start_row)
        break
    sync()
    start = time.perf_counter()
    first = None
    for start_row, items in loader():
        out = decoder(items, start_row)
        if first is None:
            first = (start_row, out[:32].cpu())
    sync()
    gpu_ips = len(samples) / (time.perf_counter() - start)
    ref = torch.stack([pil[first[0] + i] for i in range(len(first[1]))])
    diff = (first[1].int() - ref.int()).abs().float()
    rows.append(row("2. decode+resize batched nvJPEG (bytes read by the same workers)", "PIL workers",
                    pil_ips, "nvJPEG", gpu_ips, "img/s", pixel_mean_abs_diff=float(diff.mean()),
                    pixel_max_abs_diff=float(diff.max()), fell_back=decoder.fell_back))  # fmt: skip
    return rows, max(pil_ips, gpu_ips)


# --- 3. sweeps ---------------------------------------------------------------------------

SWEEP_CHILD = r"""
import json, sys, time
sys.path.insert(0, {here!r})
from bench_sweeps import task_for
from benchbase_linear.heads import for_task
from benchbase_linear.linear import logistic, svm
from benchbase.metrics import evaluate
from benchbase.toolkit.selection import l2_normalize, select_and_refit
from threadpoolctl import threadpool_limits
n, d, k, ml, signal = {args}
task = task_for(n, n, d, k, ml, [0.01, 0.1, 1.0, 10.0, 100.0], signal=signal)
make = (lambda c: svm(c, 5000, 0)) if ml else (lambda c: logistic(c, 2000, 0))
start = time.perf_counter()
with threadpool_limits(1):
    out = select_and_refit(task, for_task(task.task, make), task.params["C"], "C", l2_normalize)
secs = time.perf_counter() - start
score = evaluate(task.metric, task.test_y, out.scores, task.classes)[task.metric]
print(json.dumps({{"seconds": secs, "score": score, "C": out.chosen["C"]}}))
"""


def start_sklearn_baselines(sizes: Sizes) -> dict[str, subprocess.Popen]:
    """scikit-learn sweeps in background processes (CPU), while the GPU sections run."""
    jobs = {}
    for name, (n, d, k), ml, signal in (
        ("voc", sizes.voc, True, 0.2),
        ("sun", sizes.sun, False, 0.35),
    ):
        code = SWEEP_CHILD.format(here=str(HERE), args=(n, d, k, ml, signal))
        jobs[name] = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True)  # fmt: skip
    return jobs


def section_sweeps(sizes: Sizes, jobs: dict[str, subprocess.Popen], deadline: float) -> list:
    from bench_sweeps import task_for
    from benchbase_linear import fastlinear

    from benchbase.metrics import evaluate
    from benchbase.toolkit.selection import l2_normalize

    rows = []
    grid = [0.01, 0.1, 1.0, 10.0, 100.0]
    for name, (n, d, k), ml, signal, loss in (
        ("voc", sizes.voc, True, 0.2, "squared_hinge"),
        ("sun", sizes.sun, False, 0.35, "logistic"),
    ):
        task = task_for(n, n, d, k, ml, grid, signal=signal)
        start = time.perf_counter()
        out = fastlinear.sweep(task, loss, l2_normalize, grid, device=DEVICE)
        sync()
        ours = time.perf_counter() - start
        score = evaluate(task.metric, task.test_y, out.scores, task.classes)[task.metric]
        job = jobs[name]
        try:
            text, err = job.communicate(timeout=max(1.0, deadline - time.time()))
            base = json.loads(text.strip().splitlines()[-1]) if job.returncode == 0 else None
            note = "" if base else f"baseline failed: {err[-300:]}"
        except subprocess.TimeoutExpired:
            job.kill()
            base, note = None, "baseline (scikit-learn) did not finish within the check's budget"
        strategy = "linear-svm" if ml else "logreg"
        rows.append(row(f"3. {strategy} C sweep, {n} x {d}, {k} {'labels' if ml else 'classes'}, 5 C",
                        "scikit-learn, CPU, 1 thread", base["seconds"] if base else None,
                        f"torch on {DEVICE.type}", ours, "s", higher_is_better=False,
                        target="scores within 0.2 points", score_ours=score,
                        score_baseline=base["score"] if base else None, C_ours=out.chosen["C"],
                        C_baseline=base["C"] if base else None, note=note))  # fmt: skip
    return rows


# --- 4. suite on cuda vs cpu -------------------------------------------------------------

SUITE = """
name = "device-check"
datasets = ["caltech101"]
backbones = ["timm/tf_efficientnet_lite0:random"]
strategies = ["linear-svm", "logreg"]
input_size = {size}
[options.caltech101]
train_per_class = 3
test_per_class = 5
splits = 1
"""


def benchbase_cmd(
    *args: str, launcher: list[str] | None = None, timeout: float = 900
) -> subprocess.CompletedProcess:
    cmd = (launcher or [sys.executable]) + ["-m", "benchbase", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def stored_values(out: Path) -> dict:
    from benchbase.run.store import Store

    store = Store(out)
    try:
        return {(r["strategy"], r["layer"], r["metric"]): r["value"] for r in store.results()}
    finally:
        store.close()


def section_suite(sizes: Sizes, work: Path) -> list:
    """Without CUDA (the dry run) both runs are ``--device cpu``: the code path, not a figure."""
    second = "cuda" if CUDA else "cpu"
    from benchbase.testing import make_fake_dataset

    data = make_fake_dataset("caltech101", work / "data")
    suite = work / "suite.toml"
    suite.write_text(SUITE.format(size=sizes.suite_size))
    times, values = {}, {}
    for key, device in (("base", "cpu"), ("ours", second)):
        out = work / f"suite-{key}"
        start = time.perf_counter()
        done = benchbase_cmd("run", "--suite", str(suite), "--data-root", str(data), "--out", str(out),
                             "--device", device, "--no-leaderboard")  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"run --device {device} failed: {done.stderr[-500:]}")
        times[key] = time.perf_counter() - start
        values[key] = stored_values(out)
    gap = max(abs(values["base"][k] - values["ours"].get(k, np.nan)) for k in values["base"]) * 100
    return [row("4. suite (fake caltech101, linear-svm + logreg): stored metrics", "--device cpu",
                times["base"], f"--device {second}", times["ours"], "s", higher_is_better=False,
                target="metrics within 0.5 points", max_metric_gap_points=gap, metrics=len(values["base"]),
                verdict="" if CUDA else "dry run: cpu vs cpu (no CUDA device)")]  # fmt: skip


# --- 5. torch.compile --------------------------------------------------------------------


def section_compile(sizes: Sizes) -> list:
    """ResNet-50 on the GPU; without CUDA (the dry run) a tiny timm model on the CPU."""
    if not CUDA and not sizes.small:
        return [row("5. torch.compile on vs off (GPU)", "eager", None, "compiled", None, "img/s",
                    verdict=SKIP_NO_CUDA)]  # fmt: skip
    from benchbase.extract.backbones import resolve
    from benchbase.extract.device import autocast
    from benchbase.extract.features import TapExtractor
    from benchbase.plugin.manager import Host

    name = "timm/resnet50:random" if CUDA else "timm/test_resnet:random"
    spec = resolve(Host(entry_points=False), name)
    model = spec.build().eval().to(DEVICE).to(memory_format=torch.channels_last)
    taps = spec.backbone.taps()
    ex = TapExtractor(model, {"pool": taps["pool"]})
    batch = 256 if CUDA else 8
    x = torch.randn(batch, 3, sizes.input_size, sizes.input_size, device=DEVICE).contiguous(
        memory_format=torch.channels_last
    )
    steps = max(2, sizes.compile_images // batch)

    def speed(forward) -> tuple[float, float]:  # noqa: ANN001
        with torch.inference_mode(), autocast(DEVICE):
            start = time.perf_counter()
            forward(x)
            sync()
            first = time.perf_counter() - start
            start = time.perf_counter()
            for _ in range(steps):
                forward(x)
            sync()
        return first, steps * batch / (time.perf_counter() - start)

    _, eager = speed(ex)
    compiled = torch.compile(model)
    ex.forward = compiled
    warm, fast = speed(ex)
    ex.close()
    s = fast / eager
    breakeven = warm * eager * fast / (fast - eager) if fast > eager else None
    return [row(f"5. torch.compile {name} ({DEVICE.type}, batch {batch})", "eager", eager, "compiled",
                fast, "img/s", warmup_s=warm, speedup=s, breakeven_images=breakeven,
                verdict="" if CUDA else "dry run on the CPU (no CUDA device)")]  # fmt: skip


def section_views(sizes: Sizes) -> list:
    """ResNet-50 @ 224 on the GPU (batch 128, 4 patch images); the dry run: ResNet-18 @ 32."""
    from bench_views import measure

    name, batch, size = ("timm/resnet50:random", 128, sizes.input_size)
    if not CUDA:
        name, batch, size = "timm/resnet18:random", 4, 32
    m = measure(name, size, batch, DEVICE.type, 3, 4 if CUDA else 1)
    done = "" if CUDA else "dry run on the CPU (no CUDA device)"
    return [
        row(f"7a. CNNaug views / forward, {m['what']}", "host float views, copied",
            m["host_views_s"], "uint8 copied once, views on the device", m["views_s"], "s",
            higher_is_better=False, target="views <= 10 % of the forward",
            forward_s=m["forward_s"], views_over_forward=m["views_s"] / m["forward_s"],
            pixel_gap=m["gap"], verdict=done),
        row(f"7b. Oquab patches / forward ({m['patches']} patches)", "forward of the patches",
            m["patch_forward_s"], "patch cut+resize on the device", m["patches_s"], "s",
            higher_is_better=False, patches_over_forward=m["patches_s"] / m["patch_forward_s"],
            verdict=done),
    ]  # fmt: skip


# --- 6. torchrun finetune ----------------------------------------------------------------

FINETUNE = """
name = "device-check-ft"
datasets = ["caltech101"]
backbones = ["{backbone}"]
strategies = ["finetune"]
input_size = {size}
[options.caltech101]
train_per_class = 3
test_per_class = 5
splits = 1
[params.finetune]
epochs = 2
batch_size = 8
"""


def section_torchrun(sizes: Sizes, work: Path) -> list:
    """Without CUDA (the dry run) both runs are on the CPU and torchrun uses gloo."""
    device = "cuda" if CUDA else "cpu"
    from benchbase.testing import make_fake_dataset

    data = make_fake_dataset("caltech101", work / "ft-data")
    suite = work / "ft.toml"
    backbone = "timm/test_resnet:random" if sizes.small else "timm/resnet18:random"
    suite.write_text(FINETUNE.format(size=sizes.suite_size, backbone=backbone))
    times, values = {}, {}
    launchers = {
        "plain": None,
        "torchrun": [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "1",
        ],
    }
    for name, launcher in launchers.items():
        out = work / f"ft-{name}"
        start = time.perf_counter()
        done = benchbase_cmd("run", "--suite", str(suite), "--data-root", str(data), "--out", str(out),
                             "--device", device, "--no-leaderboard", launcher=launcher)  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"{name} finetune failed: {done.stderr[-500:]}")
        times[name] = time.perf_counter() - start
        values[name] = stored_values(out)
    gap = (
        max(abs(values["plain"][k] - values["torchrun"].get(k, np.nan)) for k in values["plain"])
        * 100
    )
    return [row(f"6. finetune cell: torchrun --nproc_per_node 1 ({'NCCL' if CUDA else 'gloo, CPU'}) vs plain",
                "plain run", times["plain"], "torchrun", times["torchrun"], "s", higher_is_better=False,
                max_metric_gap_points=gap, verdict="" if CUDA else "dry run on the CPU (no CUDA device)")]  # fmt: skip


# --- report ------------------------------------------------------------------------------


def markdown(meta: dict, rows: list[dict]) -> str:
    def fmt(v: Any) -> str:
        return "" if v is None else f"{v:.4g}" if isinstance(v, float) else str(v)

    lines = [f"# device check ({meta['mode']})", "", f"machine: {meta['machine']}", f"started: {meta['started']}, took {meta['seconds']:.0f} s", "",
             "| figure | baseline | baseline value | ours | value | unit | ratio | notes |", "| --- | --- | ---: | --- | ---: | --- | ---: | --- |"]  # fmt: skip
    skip = {"name", "baseline", "baseline_value", "ours", "value", "unit", "ratio"}
    for r in rows:
        notes = "; ".join(
            f"{k}={fmt(v)}" for k, v in r.items() if k not in skip and v not in (None, "")
        )
        lines.append(
            f"| {r['name']} | {r['baseline']} | {fmt(r['baseline_value'])} | {r['ours']} | {fmt(r['value'])} | {r['unit']} | {fmt(r['ratio'])} | {notes} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("out", type=Path, help="folder for device_check.json and device_check.md")
    ap.add_argument(
        "--small", action="store_true", help="tiny sizes: a CPU dry run of every section"
    )
    ap.add_argument(
        "--budget",
        type=float,
        default=450.0,
        help="seconds before the sklearn baselines are cut off",
    )
    ap.add_argument("--sections", default="1,2,3,4,5,6,7", help="which sections to run, e.g. 4,6")
    args = ap.parse_args()
    wanted = set(args.sections.split(","))
    started = time.time()
    sizes = Sizes(args.small)
    args.out.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    work = Path(tempfile.mkdtemp(prefix="device-check-"))
    jobs = start_sklearn_baselines(sizes) if "3" in wanted else {}

    def attempt(name: str, fn, *a):  # noqa: ANN001, ANN202
        t0 = time.perf_counter()
        try:
            out = fn(*a)
        except Exception as exc:  # one broken section must not hide the others' figures
            rows.append(
                row(
                    name,
                    "",
                    None,
                    "",
                    None,
                    "",
                    verdict=f"failed: {type(exc).__name__}: {exc}"[:800],
                )
            )
            traceback.print_exc()
            return None
        print(
            f"[{time.time() - started:6.0f} s] {name}: done in {time.perf_counter() - t0:.0f} s",
            flush=True,
        )
        return out

    try:
        samples = jpegs(work / "jpegs", sizes)
        decoded = attempt("2. decode", section_decode, sizes, samples) if "2" in wanted else None
        ceiling = None
        if decoded:
            rows.extend(decoded[0])
            ceiling = decoded[1]
        for name, fn, a in (
            ("1. extraction", section_extraction, (sizes, samples, work, ceiling)),
            ("4. suite", section_suite, (sizes, work)),
            ("5. compile", section_compile, (sizes,)),
            ("6. torchrun", section_torchrun, (sizes, work)),
            ("7. views", section_views, (sizes,)),
            ("3. sweeps", section_sweeps, (sizes, jobs, started + args.budget)),
        ):
            if name.split(".")[0] in wanted:
                rows.extend(attempt(name, fn, *a) or [])
    finally:
        for job in jobs.values():
            if job.poll() is None:
                job.kill()
        shutil.rmtree(work, ignore_errors=True)
    meta = {"mode": "small (CPU dry run)" if args.small else "full", "machine": machine(),
            "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(started)),
            "seconds": time.time() - started, "torch": torch.__version__}  # fmt: skip
    (args.out / "device_check.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    (args.out / "device_check.md").write_text(markdown(meta, rows))
    print(markdown(meta, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
