"""Running a suite on more than one process: ``--jobs N`` locally, or SLURM jobs via submitit.

No scheduler of our own: every worker is an ordinary :class:`~benchbase.run.runner.Runner` on the
same ``--out`` folder, and the results store's claims (:meth:`benchbase.run.store.Store.claim`)
decide which worker computes which cell. The runner claims the cells of one dataset ×
backbone group before extracting their features, so a group (its one extraction pass and
its cells) goes to one worker, and each cell is computed exactly once; a worker that finds
the remaining cells held by others waits for them, then exits. Results are therefore
identical to a single-process run (same cells, same seeds, same features).

- ``local``: ``N`` worker processes on this machine; with several GPUs, worker ``i`` sees
  GPU ``i mod n_gpus`` only (``CUDA_VISIBLE_DEVICES``).
- ``submitit``: a job array of ``N`` tasks on SLURM (partition, GPUs per job, time limit,
  array parallelism as options), or on submitit's local executor (``cluster="local"``,
  used by the tests). ``--out`` must be on storage every node sees (the feature and image
  caches live there too); SQLite's locking needs a file system with working POSIX locks
  (not every NFS mount has them; Lustre and GPFS do).
- ``torchrun --nproc_per_node N -m benchbase run ...`` (:mod:`benchbase.run.ddp`): sharded
  extraction (:func:`benchbase.run.ddp.sharded_features`: every rank extracts a disjoint slice
  of each image list, the slices are merged into the ordinary feature cache entries), data-parallel
  fine-tuning, then rank 0 runs the other cells. ``-m benchbase.run.executors SUITE OUT`` is
  the extraction alone (:func:`torchrun_extract`).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchbase.cli.common import positive_int
from benchbase.errors import BenchbaseError, CellFailedError
from benchbase.run import ddp, signals
from benchbase.run.signals import Terminated
from benchbase.run.worker import WorkerConfig, run_worker

EXECUTORS = ("local", "submitit")


def _weights_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith("BENCHBASE_")}


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The scale-out options of ``benchbase run``."""
    g = p.add_argument_group("scale-out (docs/SCALING.md)")
    g.add_argument(
        "--executor",
        choices=EXECUTORS,
        default="local",
        help="local (this machine) or submitit (SLURM jobs; --cluster local to try it here)",
    )
    g.add_argument(
        "--jobs",
        type=positive_int,
        default=1,
        help="worker processes (local) or array tasks (submitit)",
    )
    g.add_argument("--partition", default=None, help="submitit: SLURM partition")
    g.add_argument("--gpus-per-job", type=int, default=1, help="submitit: GPUs per job")
    g.add_argument("--cpus-per-job", type=int, default=8, help="submitit: CPU cores per job")
    g.add_argument("--time-limit", type=int, default=240, help="submitit: minutes per job")
    g.add_argument(
        "--array-parallelism", type=int, default=None, help="submitit: tasks running at once"
    )
    g.add_argument(
        "--cluster",
        default=None,
        help="submitit: slurm (default when sbatch exists), local or debug",
    )
    g.add_argument(
        "--dist-backend",
        choices=("auto", "nccl", "gloo"),
        default="auto",
        help="under torchrun: process-group backend (auto: nccl on CUDA, gloo on CPU)",
    )


def wanted(args: argparse.Namespace) -> bool:
    """Whether ``benchbase run`` should hand the run to :func:`dispatch`."""
    return getattr(args, "executor", "local") != "local" or getattr(args, "jobs", 1) > 1


def config_from_args(args: argparse.Namespace) -> WorkerConfig:
    return WorkerConfig(
        suite=str(Path(args.suite).resolve()) if Path(args.suite).is_file() else args.suite,
        out=str(Path(args.out).resolve()),
        data_root=str(Path(args.data_root).resolve()) if args.data_root else None,
        device=args.device,
        batch_size=args.batch_size,
        skip_bad_images=getattr(args, "skip_bad_images", False),
        env=_weights_env(),
    )


def dispatch(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Run ``args``' suite through the chosen executor; one summary per worker."""
    if args.jobs < 1:
        raise BenchbaseError(f"--jobs must be at least 1, got {args.jobs}")
    config = config_from_args(args)
    if args.executor == "submitit":
        return run_submitit(
            config,
            jobs=args.jobs,
            partition=args.partition,
            gpus_per_job=args.gpus_per_job,
            cpus_per_job=args.cpus_per_job,
            time_limit=args.time_limit,
            array_parallelism=args.array_parallelism,
            cluster=args.cluster,
        )
    return run_local(config, args.jobs)


def worker_main(config_json: str, parent: int) -> int:
    """A ``--jobs`` worker process: runs :func:`run_worker` and prints one JSON line on
    stdout, ``{"summary": ...}`` or ``{"error": message}`` (the parent reports errors
    once, for all workers). Stopped by SIGINT/SIGTERM it releases its claims, removes its
    temporary files and exits 130/143 without a message (the parent prints one)."""
    import json
    import traceback


    signals.die_with_parent(parent)
    signals.stop_once()
    try:
        reply: dict[str, Any] = {"summary": run_worker(WorkerConfig(**json.loads(config_json)))}
        code = 0
    except CellFailedError as exc:
        reply, code = {"error": str(exc), "failed": [exc.what, exc.cell, exc.cause]}, 2
    except BenchbaseError as exc:
        reply, code = {"error": str(exc)}, 2
    except KeyboardInterrupt as exc:
        return signals.exit_status(exc)
    except Exception as exc:  # a bug: the parent shows one traceback, not one per worker
        reply = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
        code = 1
    with contextlib.suppress(BrokenPipeError):  # the parent is gone: nobody to tell
        print(json.dumps(reply), flush=True)
    return code


#: How long stopped workers get to release their claims before they are killed.
STOP_SECONDS = 30.0


def _stop_workers(procs: list[subprocess.Popen[str]], signum: int) -> None:
    """Forward ``signum`` to every worker still running and wait for them (then SIGKILL)."""
    import time

    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signum)
    deadline = time.monotonic() + STOP_SECONDS
    for proc in procs:
        try:
            proc.communicate(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


def _worker_failures(
    replies: list[tuple[int, dict[str, Any] | None]], jobs: int
) -> BenchbaseError | None:
    """One error for every failed worker: each distinct message once, naming its workers; a
    strategy that failed the same way on several cells (``CellFailedError``) is one message
    naming every cell, so its cause is printed once."""
    import signal

    #: message, or (what failed, its cause) → the cells it failed on and the workers
    groups: dict[Any, tuple[list[str], list[int]]] = {}
    traceback_text = ""
    for i, (code, reply) in enumerate(replies):
        if code == 0 and reply is not None and "summary" in reply:
            continue
        cell = None
        if reply is not None and "failed" in reply:
            what, cell, cause = map(str, reply["failed"])
            key: Any = (what, cause)
        elif reply is not None and "error" in reply:
            key = str(reply["error"])
            traceback_text = traceback_text or str(reply.get("traceback", ""))
        elif code < 0:
            key = (
                f"killed by signal {signal.Signals(-code).name} (out of memory? see dmesg); "
                "finished cells are saved: re-run the same command to compute the rest"
            )
        else:
            key = f"exited with status {code} without a result (its messages are above)"
        cells, workers = groups.setdefault(key, ([], []))
        cells.extend([cell] if cell is not None else [])
        workers.append(i)
    if not groups:
        return None
    if traceback_text:
        print(traceback_text, file=sys.stderr, end="")
    parts = []
    for key, (cells, ws) in groups.items():
        if isinstance(key, tuple):
            others = "".join(f" (and on {c})" for c in cells[1:])
            key = f"{key[0]} failed on {cells[0]}{others}: {key[1]}"
        parts.append(f"local worker{'s' if len(ws) > 1 else ''} {', '.join(map(str, ws))} of {jobs}: {key}")
    return BenchbaseError("\n".join(parts))


def run_local(config: WorkerConfig, jobs: int) -> list[dict[str, Any]]:
    """``jobs`` worker processes on this machine, one GPU each when there are several.

    Workers run in their own session (a terminal's Ctrl-C reaches this process only) and
    die with it; this process forwards SIGINT/SIGTERM to them and waits until they have
    released their claims, so no worker outlives the command."""
    import json


    gpus = _visible_gpus()
    code = (
        "import sys; from benchbase.run.executors import worker_main; "
        "sys.exit(worker_main(sys.argv[1], int(sys.argv[2])))"
    )
    procs: list[subprocess.Popen[str]] = []
    replies: list[tuple[int, dict[str, Any] | None]] = []
    try:
        for i in range(jobs):
            env = dict(os.environ)
            if len(gpus) > 1:
                env["CUDA_VISIBLE_DEVICES"] = gpus[i % len(gpus)]
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-c", code, json.dumps(config.__dict__), str(os.getpid())],
                    env=env,
                    stdout=subprocess.PIPE,
                    text=True,
                    start_new_session=True,
                )
            )
        for proc in procs:
            out, _ = proc.communicate()
            lines = out.strip().splitlines()
            try:
                reply = json.loads(lines[-1]) if lines else None
            except ValueError:
                reply = None
            replies.append((proc.returncode, reply if isinstance(reply, dict) else None))
    except BaseException as exc:
        import signal

        _stop_workers(procs, signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT)
        raise
    failure = _worker_failures(replies, jobs)
    if failure is not None:
        raise failure
    return [reply["summary"] for _, reply in replies if reply is not None]


def _visible_gpus() -> list[str]:
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return [g for g in listed.split(",") if g.strip()]
    try:
        import torch

        return [str(i) for i in range(torch.cuda.device_count())]
    except ImportError:
        return []


def run_submitit(
    config: WorkerConfig,
    jobs: int,
    partition: str | None = None,
    gpus_per_job: int = 1,
    cpus_per_job: int = 8,
    time_limit: int = 240,
    array_parallelism: int | None = None,
    cluster: str | None = None,
    wait: bool = True,
) -> list[dict[str, Any]]:
    """Submit ``jobs`` array tasks, each a :func:`run_worker`; wait and return summaries."""
    try:
        import submitit
    except ImportError:
        raise BenchbaseError(
            "--executor submitit needs submitit: pip install 'benchbase[slurm]'"
        ) from None
    folder = Path(config.out) / "submitit" / "%j"
    executor = submitit.AutoExecutor(folder=folder, cluster=cluster)
    params: dict[str, Any] = {"timeout_min": time_limit, "name": "benchbase"}
    if executor.cluster == "slurm":
        params.update(
            slurm_partition=partition,
            gpus_per_node=gpus_per_job,
            cpus_per_task=cpus_per_job,
            slurm_array_parallelism=array_parallelism or jobs,
        )
        params = {k: v for k, v in params.items() if v is not None}
    elif executor.cluster == "local":
        params.update(gpus_per_node=0 if config.device == "cpu" else gpus_per_job)
    executor.update_parameters(**params)
    job_list = executor.map_array(run_worker, [config] * jobs)
    if not wait:
        return [{"job_id": j.job_id} for j in job_list]
    summaries, errors = [], []
    for job in job_list:
        try:
            summaries.append(job.result())
        except Exception as exc:  # a failed job's own traceback is in its log folder
            errors.append(f"job {job.job_id}: {type(exc).__name__}: {exc}")
    if errors:
        raise BenchbaseError(
            "submitit jobs failed; logs under "
            f"{Path(config.out) / 'submitit'}; re-run to finish the remaining cells:\n"
            + "\n".join(errors)
        )
    return summaries


def _sum_counts(tables: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for table in tables:
        for key, n in table.items():
            out[key] = out.get(key, 0) + n
    return out


def merge(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """One run summary from the workers' ones (cells done by anyone, images forwarded)."""
    return {
        "done": sum(s.get("done", 0) for s in summaries),
        "skipped": min((s.get("skipped", 0) for s in summaries), default=0),
        "forward_images": sum(s.get("forward_images", 0) for s in summaries),
        "seconds": max((s.get("seconds", 0.0) for s in summaries), default=0.0),
        "missing": {k: v for s in summaries for k, v in s.get("missing", {}).items()},
        "unavailable": max((s.get("unavailable", 0) for s in summaries), default=0),
        "warnings": _sum_counts(s.get("warnings", {}) for s in summaries),
        "warned_cells": sum(s.get("warned_cells", 0) for s in summaries),
    }


# --- torchrun ------------------------------------------------------------------------


def torchrun_extract(config: WorkerConfig, backend: str = "auto") -> int:
    """Under ``torchrun``: fill the feature cache of every dataset × backbone group of the
    suite, each rank extracting a disjoint shard of the images, and run no cell. Kept for
    ``torchrun -m benchbase.run.executors``; ``torchrun -m benchbase run`` does this and the rest.
    """

    ddp.run(config, backend=backend, cells=False)
    return 0


if __name__ == "__main__":  # torchrun --nproc_per_node N -m benchbase.run.executors SUITE OUT
    from benchbase.run import ddp

    sys.exit(
        ddp.legacy_main(
            "torchrun --nproc_per_node N -m benchbase.run.executors",
            "Sharded extraction only; `torchrun ... -m benchbase run --suite S --out O` "
            "also runs the cells.",
            torchrun_extract,
        )
    )
