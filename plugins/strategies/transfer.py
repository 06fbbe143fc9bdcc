"""Yosinski et al. 2014, "How transferable are features in deep neural networks?".

For each ``n`` in the ``n`` list: copy the first ``n`` blocks (parameters and batch-norm
statistics) of the pretrained network into a freshly initialised copy of the same
architecture (seeded), give it a new classifier, and train it on the target. With
``mode="frozen"`` the copied blocks stay fixed (the paper's AnB); with
``mode="finetune"`` they train too (AnB+). ``n=0`` trains the whole network from scratch.
Blocks are the depth units of :func:`benchbase_plugins.strategies.finetune.blocks_by_depth`
(timm's stem and stages with ``granularity="coarse"``, or its finer blocks; torchvision's
AlexNet: conv1..conv5, fc6, fc7). Each ``n`` is one result row, with layer ``"n=<n>"``
(frozen) or ``"n=<n>+"`` (fine-tuned; ``mode="both"`` gives both curves), so the rows form
the transferability curve. Training is the ``finetune`` loop (every trainable parameter at
``lr``; the epochs chosen on validation, then with ``refit`` a retrain on the whole training
set for that many epochs); copied frozen blocks keep their batch-norm
statistics, the others learn theirs (``freeze_bn=False``). Under ``torchrun -m benchbase
run`` the cells train data-parallel, as ``finetune``'s do.
"""

from __future__ import annotations

from typing import Any

from benchbase_plugins.strategies.finetune import (
    TRAINING_DEFAULTS,
    blocks_by_depth,
    chosen_from,
    prepare,
    replace_head,
    train_and_refit,
)
from benchbase_plugins.strategies.rules import one_of, rules

from benchbase import ImageTask, Outcome, Strategy, hookimpl
from benchbase.errors import BenchbaseError

MODES = ("frozen", "finetune", "both")


def copy_first_blocks(
    target: Any, source: Any, blocks: list[list[str]], n: int
) -> tuple[set[str], list[str]]:
    """Load the first ``n`` blocks' parameters (and their modules' buffers) of ``source``
    into ``target``; returns the copied parameter names and the copied state keys."""
    params = {name for block in blocks[:n] for name in block}
    modules = {name.rpartition(".")[0] for name in params}
    src = source.state_dict()
    keys = [k for k in target.state_dict() if k in params or k.rpartition(".")[0] in modules]
    target.load_state_dict({k: src[k] for k in keys}, strict=False)
    return params, keys


def build_n(task: ImageTask, n: int, mode: str) -> tuple[Any, dict[str, float | None], int]:
    """A fresh (seeded) network with its first ``n`` blocks copied from the pretrained one,
    its new head, and the learning rates (copied blocks frozen in ``"frozen"`` mode)."""
    import torch

    coarse = task.params["granularity"] == "coarse"
    with torch.random.fork_rng(devices=[]):  # the fresh layers and the new head: seeded
        torch.manual_seed(task.seed)
        fresh = task.backbone.build(False)
        head = replace_head(fresh, len(task.classes))
    blocks = blocks_by_depth(fresh, head, coarse=coarse)
    if not 0 <= n <= len(blocks):
        raise BenchbaseError(
            f"transfer-n: n={n} is out of range; {task.backbone.name} has {len(blocks)} "
            f"{task.params['granularity']} blocks (n in 0..{len(blocks)})"
        )
    copied: set[str] = set()
    if n:
        source = task.build()
        copied, _ = copy_first_blocks(fresh, source, blocks, n)
        del source
    lr = float(task.params["lr"])
    frozen = mode == "frozen"
    lrs = {
        name: (None if frozen and name in copied else lr) for name, _ in fresh.named_parameters()
    }
    return fresh, lrs, len(blocks)


def run_n(task: ImageTask, n: int, data: Any, mode: str) -> Outcome:
    n_blocks: list[int] = []

    def build() -> tuple[Any, dict[str, float | None]]:
        model, lrs, count = build_n(task, n, mode)
        n_blocks[:] = [count]
        return model, lrs

    result, refit = train_and_refit(build, data, task)
    frozen = mode == "frozen"
    chosen = chosen_from(result, task, n=n, blocks=n_blocks[0], mode=mode, **refit)
    label = f"n={n}" if frozen else f"n={n}+"
    return Outcome(label, result.test_scores, chosen, result.history)


def transfer_n(tasks: dict[str, ImageTask]) -> list[Outcome]:
    outcomes = []
    for task in tasks.values():
        if task.params["mode"] not in MODES:
            raise BenchbaseError(
                f"transfer-n: mode must be one of {', '.join(MODES)}, got {task.params['mode']!r}"
            )
        if task.params["granularity"] not in ("coarse", "fine"):
            raise BenchbaseError("transfer-n: granularity must be 'coarse' or 'fine'")
        data = prepare(task)
        mode = task.params["mode"]
        modes = ["frozen", "finetune"] if mode == "both" else [mode]
        for m in modes:
            outcomes.extend(run_n(task, int(n), data, m) for n in task.params["n"])
    return outcomes


def row_layers(params: dict[str, Any]) -> list[str]:
    """The rows a cell gives: ``n=<n>`` (frozen) and/or ``n=<n>+`` (fine-tuned) per n."""
    mode = params["mode"]
    modes = ["frozen", "finetune"] if mode == "both" else [mode]
    return [f"n={n}" if m == "frozen" else f"n={n}+" for m in modes for n in params["n"]]


@hookimpl
def register_strategies(register):  # noqa: ANN001, ANN201
    register(
        Strategy(
            name="transfer-n",
            check_params=rules(mode=one_of(*MODES), granularity=one_of("coarse", "fine")),
            evaluate=transfer_n,
            # 4: epochs chosen on validation, then a refit on the whole training set
            version="4",
            description="Yosinski et al. 2014: copy the first n blocks of the pretrained "
            "network, re-initialise the rest, train with the copied blocks frozen (AnB) or "
            "fine-tuned (AnB+); one row per n (layer 'n=<n>'); n=0 is from scratch",
            default_params={
                "n": [0, 1, 2, 3, 4, 5, 6, 7],
                "mode": "frozen",
                "granularity": "coarse",
                "freeze_bn": False,
                **TRAINING_DEFAULTS,
            },
            inputs="images",
            row_layers=row_layers,
            data_parallel=True,
        )
    )
