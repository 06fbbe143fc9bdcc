"""Yosinski et al. 2014, "How transferable are features in deep neural networks?".

A base network is trained on a source task A and one on the target task B. For each ``n``
in the ``n`` list, the first ``n`` blocks (parameters and batch-norm statistics) of a base
network are copied into a freshly initialised copy of the same architecture (seeded), the
rest is re-initialised with a new classifier, and the network is trained on B:

- ``AnB`` (copied from base A, copied blocks frozen) and ``AnB+`` (fine-tuned): transfer;
- ``BnB`` and ``BnB+`` (copied from base B itself): the selffer controls, which show the
  drop that comes from splitting co-adapted layers rather than from A's specificity;
- ``baseB``: base B, trained from scratch on B (``BnB`` at n=0 is exactly its protocol).

Rows are named as in the paper: layer ``"A3B"``, ``"A3B+"``, ``"B3B"``, ``"B3B+"``,
``"baseB"``. ``mode`` picks frozen, fine-tuned or both; ``selffer=false`` skips the B rows.

Base A: under the class-halves protocol (``[options.<dataset>] halves_seed = N`` or
``half_a = [...]``, or a dataset's own halves such as ImageNet's), a network trained from
scratch on half A of the same split, as in the paper; otherwise the backbone's pretrained
weights (ImageNet → the target dataset, the usual transfer setting).

Blocks are the depth units of :func:`benchbase_finetune.finetune.blocks_by_depth`
(timm's stem and stages with ``granularity="coarse"``, or its finer blocks; torchvision's
AlexNet: conv1..conv5, fc6, fc7, the paper's layers 1..7). Training is the ``finetune`` loop
(every trainable parameter at ``lr``; the number of epochs chosen on validation, then with
``refit`` the network trained afresh on the whole training set for that many epochs); copied frozen blocks keep
their batch-norm statistics, the others learn theirs (``freeze_bn=False``). Under ``torchrun
-m benchbase run`` the cells train data-parallel, as ``finetune``'s do.

What differs from the paper: the paper trains on the ImageNet halves (645k images each) with
Caffe's ImageNet recipe (SGD, lr 0.01 ×0.1 steps, 450k iterations); here any dataset's halves
(a proxy for ImageNet's unless the ``imagenet`` dataset is used) with the ``finetune`` loop's
cosine schedule, augmentation and early stopping, and one seeded run per cell instead of the
paper's several random splits.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from benchbase import ImageTask, Outcome, Strategy, hookimpl
from benchbase.errors import BenchbaseError
from benchbase.metrics import evaluate
from benchbase.toolkit import (
    TRAINING_DEFAULTS,
    blocks_by_depth,
    chosen_from,
    one_of,
    prepare_training,
    replace_head,
    strategy_rules,
    train_and_refit,
)

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


def row_label(base: str, n: int, frozen: bool) -> str:
    """``A3B`` / ``A3B+`` / ``B3B`` / ``B3B+``: the paper's names for the rows."""
    return f"{base}{n}B" + ("" if frozen else "+")


def fresh_network(task: ImageTask, n_classes: int) -> tuple[Any, list[list[str]]]:
    """The architecture, freshly initialised (seeded: the same weights on every call), with
    a new ``n_classes``-way head, and its blocks by depth."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(task.seed)
        net = task.backbone.build(False)
        head = replace_head(net, n_classes)
    return net, blocks_by_depth(net, head, coarse=task.params["granularity"] == "coarse")


def transfer(
    task: ImageTask, data: Any, base: Any | None, n: int, frozen: bool
) -> tuple[Any, Any, dict[str, Any]]:
    """Copy the first ``n`` blocks of ``base`` into a fresh network and train it on the
    task; returns the training result, the trained network and the extras for ``chosen``."""
    n_blocks: list[int] = []

    def build() -> tuple[Any, dict[str, float | None]]:
        net, blocks = fresh_network(task, len(task.classes))
        check_n(task, [n], len(blocks))
        n_blocks[:] = [len(blocks)]
        copied = copy_first_blocks(net, base, blocks, n)[0] if n and base is not None else set()
        lr = float(task.params["lr"])
        return net, {
            name: (None if frozen and name in copied else lr) for name, _ in net.named_parameters()
        }

    result, refit, net = train_and_refit(build, data, task)
    return result, net, {"n": n, "blocks": n_blocks[0], "frozen": frozen, **refit}


def check_n(task: ImageTask, ns: list[int], n_blocks: int) -> None:
    bad = [n for n in ns if not 0 <= n <= n_blocks]
    if bad:
        raise BenchbaseError(
            f"transfer-n: n={bad[0]} is out of range; {task.backbone.name} has {n_blocks} "
            f"{task.params['granularity']} blocks (n in 0..{n_blocks})"
        )


def source_task(task: ImageTask) -> ImageTask:
    """The task on half A (its training and test images and classes)."""
    source = task.source
    assert source is not None
    return dataclasses.replace(
        task,
        train=source.train,
        train_y=np.array([s.label for s in source.train], dtype=np.int64),
        test=source.test,
        test_y=np.array([s.label for s in source.test], dtype=np.int64),
        classes=list(task.source_classes),
        source=None,
        source_classes=[],
    )


def base_network(task: ImageTask, data: Any) -> tuple[Any, Any]:
    """A network trained from scratch on ``task`` (all layers at lr): base A or base B."""
    result, net, _ = transfer(task, data, None, 0, frozen=False)
    return net, result


def base_a(task: ImageTask) -> tuple[Any, dict[str, Any]]:
    """Base A: trained on half A of the split (class halves), else the pretrained network."""
    if task.source is None:
        return task.build(), {"source": "pretrained weights" if task.pretrained else "random init"}
    a = source_task(task)
    model, result = base_network(a, prepare_training(a))
    info: dict[str, Any] = {"source": f"half A ({len(a.classes)} classes), trained from scratch"}
    if len(a.test):
        info["baseA_test_" + task.metric] = evaluate(
            task.metric, a.test_y, result.test_scores, a.classes
        )[task.metric]
    return model, info


def _outcome(label: str, result: Any, task: ImageTask, extra: dict[str, Any]) -> Outcome:
    chosen = chosen_from(result, task, **extra)
    return Outcome(label, result.test_scores, chosen, result.history)


def transfer_n(tasks: dict[str, ImageTask]) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for task in tasks.values():
        mode = task.params["mode"]
        modes = [True, False] if mode == "both" else [mode == "frozen"]
        ns = [int(v) for v in task.params["n"]]
        check_n(task, ns, len(fresh_network(task, len(task.classes))[1]))  # before any training
        source, info = base_a(task)
        data = prepare_training(task)
        bases: list[tuple[str, Any, dict[str, Any]]] = [("A", source, info)]
        if task.params["selffer"]:
            model_b, result_b = base_network(task, data)
            outcomes.append(_outcome("baseB", result_b, task, {"n": 0, "source": "none"}))
            bases.append(("B", model_b, {"source": "base B (trained on the target)"}))
        for name, base, extra in bases:
            for frozen in modes:
                for n in ns:
                    result, _, more = transfer(task, data, base, n, frozen)
                    label = row_label(name, n, frozen)
                    outcomes.append(_outcome(label, result, task, {**extra, **more}))
    return outcomes


def row_layers(params: dict[str, Any]) -> list[str]:
    """The rows a cell gives, in order (``baseB`` first when ``selffer``)."""
    mode = params["mode"]
    modes = [True, False] if mode == "both" else [mode == "frozen"]
    bases = ["A", "B"] if params["selffer"] else ["A"]
    rows = [row_label(b, int(n), f) for b in bases for f in modes for n in params["n"]]
    return (["baseB"] if params["selffer"] else []) + rows


DESCRIPTION = (
    "Yosinski et al. 2014: copy the first n layers of a base network, re-initialise the "
    "rest, train on the target with the copied layers frozen or fine-tuned: AnB/AnB+ from "
    "base A (the pretrained network, or under class halves a network trained from scratch "
    "on half A), BnB/BnB+ from base B (the selffer controls) and baseB (rows 'A3B', 'A3B+', "
    "'B3B', 'B3B+', 'baseB'). Differs: any dataset's class halves stand in for the ImageNet "
    "halves unless the imagenet dataset is used; the finetune loop (cosine schedule, "
    "augmentation, early stopping) replaces Caffe's 450k-iteration recipe; one seeded run "
    "per split"
)


@hookimpl
def register_strategies(register: Callable[[Strategy], None]) -> None:
    register(
        Strategy(
            name="transfer-n",
            check_params=strategy_rules(mode=one_of(*MODES), granularity=one_of("coarse", "fine")),
            evaluate=transfer_n,
            # 5: BnB/BnB+/baseB selffer rows, class halves, paper row names (A3B, ...)
            # 6: epochs chosen on validation, then a refit on the whole training set
            version="6",
            description=DESCRIPTION,
            default_params={
                "n": [1, 2, 3, 4, 5, 6, 7],
                "mode": "both",
                "selffer": True,
                "granularity": "coarse",
                "freeze_bn": False,
                **TRAINING_DEFAULTS,
            },
            inputs="images",
            row_layers=row_layers,
            data_parallel=True,
        )
    )
