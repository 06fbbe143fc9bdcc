"""Fine-tuning from the pretrained weights (the lecture's recipe), plus the network-training
helpers that ``transfer-n`` reuses.

The backbone's classifier is replaced by a new one (timm's ``reset_classifier``, else the
last ``nn.Linear`` of the model). The rest of the network is cut into blocks by depth:
timm's ``group_matcher`` (stem, stages) when the model has one, else the order of its
named children (containers such as ``nn.Sequential`` opened one level, so torchvision's
AlexNet gives conv1..conv5, fc6, fc7). ``train`` picks what learns and how fast:

- ``layerwise`` (default): new head at ``lr``, the top ``top_blocks`` blocks at
  ``lr * top_lr_mult`` (~lr/10), every lower block at ``lr * lower_lr_mult`` (~lr/100);
- ``top``: head at ``lr``, the top ``top_blocks`` blocks at ``lr * top_lr_mult``, the rest
  frozen (batch-norm statistics too);
- ``all``: the whole network at ``lr``;
- ``head``: only the new head (a linear probe trained end to end by SGD).

A ``:random`` backbone has no pretrained layers to protect: with ``random_init="all"``
(default) it trains as ``all`` with its batch-norm statistics learnt (the "from scratch"
rows, e.g. Oquab et al.'s NO PRETRAIN), with ``"same"`` as ``train`` says.

Reading of the recipe's "1/10 of the original learning rate on the top layers, 1/100 on the
intermediate ones": "top layers" are the ``top_blocks`` (2) pretrained blocks right below the
new head (ResNet-50: ``layer3``, ``layer4``; AlexNet: ``fc6``, ``fc7``), "intermediate" every
block beneath them, the stem included, at lr/100 rather than frozen. Why: the recipe names
no third rate, so nothing is frozen in this mode (``train="top"`` freezes the lower blocks);
the blocks nearest the head are the most task-specific (Yosinski et al. 2014) and move most;
and the early layers still adapt slowly to the target's statistics. The head is new and
trains at the full ``lr``.

Training: SGD with momentum (or AdamW), cosine schedule over ``epochs``, random-resized
crop + horizontal flip (per image, from a generator seeded by seed, epoch and image index),
the number of epochs chosen on the dataset's metric over a validation split carved from the
training set (early stopping after ``patience`` epochs without gain), then with ``refit``
(the default) the network trained afresh on every training image for that many epochs and
scoring the test set (``refit=false``: the best epoch's weights of the held-out run do), AMP and channels-last on CUDA, seeded. With
``freeze_bn`` (default) batch-norm layers keep the pretrained running statistics (small
batches of a small target set make poor estimates); their affine parameters still train. Images are decoded once into a uint8 tensor at
``input_size / crop_pct`` (the evaluation resize) and cropped on the fly; that tensor costs
3 × L² bytes per image (about 2 GB for VOC 2007 at 224 px), shared with ``transfer-n``
and ``linear-svm-aug`` within one process. Under an initialised ``torch.distributed`` process
group (``torchrun -m benchbase run``) training is data-parallel; see :func:`data_parallel`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from benchbase import CellCost, CostShape, ImageTask, Outcome, Strategy, hookimpl
from benchbase.toolkit import (
    TRAIN_MODES,
    TRAINING_DEFAULTS,
    blocks_by_depth,
    chosen_from,
    layerwise_lrs,
    one_of,
    prepare_training,
    replace_head,
    strategy_rules,
    train_and_refit,
)

if TYPE_CHECKING:
    import torch


#: How a randomly initialised (``:random``) backbone trains: every layer at lr, or as ``train``.
RANDOM_INIT_MODES = ("all", "same")


# --- the strategy ---------------------------------------------------------------------


def scratch_params(params: dict[str, Any], pretrained: bool) -> dict[str, Any]:
    """What a randomly initialised backbone trains with: with ``random_init="all"`` every
    layer at ``lr`` and batch-norm statistics learnt (lr/10, lr/100 and frozen statistics
    only make sense on pretrained weights); ``"same"`` keeps ``params`` as they are."""
    if pretrained or params.get("random_init", "all") == "same":
        return params
    return {**params, "train": "all", "freeze_bn": False}


def finetune(tasks: dict[str, ImageTask]) -> list[Outcome]:
    import dataclasses

    outcomes = []
    for task in tasks.values():
        import torch

        task = dataclasses.replace(task, params=scratch_params(task.params, task.pretrained))
        data = prepare_training(task)
        blocks: list[int] = []

        def build(
            task: ImageTask = task, blocks: list[int] = blocks
        ) -> tuple[torch.nn.Module, dict[str, float | None]]:
            torch.manual_seed(task.seed)
            model = task.build()
            head = replace_head(model, len(task.classes))
            blocks[:] = [len(blocks_by_depth(model, head))]
            return model, layerwise_lrs(model, head, task.params)

        result, refit, _ = train_and_refit(build, data, task)
        chosen = chosen_from(result, task, blocks=blocks[0], train=task.params["train"], **refit)
        outcomes.append(Outcome(task.layer, result.test_scores, chosen, result.history))
    return outcomes


def finetune_cost(params: dict[str, Any], shape: CostShape) -> CellCost:
    """Training passes (forward + backward = 3 forward-equivalents per image) over the fit
    part for ``epochs`` with a validation pass each epoch, then with ``refit`` as many over
    every training image, and the test pass; each split decoded once."""
    from benchbase.toolkit import fit_rows

    epochs, vf = int(params["epochs"]), float(params["val_fraction"])
    fit = fit_rows(shape.train, vf)
    passes = 3 * epochs * fit + epochs * (shape.train - fit)
    if params["refit"]:
        passes += 3 * epochs * shape.train
    return CellCost(
        train_views=1,
        test_views=1,
        forwards=passes + shape.test,
        decodes=shape.train + shape.test,
        note="finetune: epochs counted in full; early stopping (patience) may end sooner",
    )


@hookimpl
def register_strategies(register):  # noqa: ANN001, ANN201
    register(
        Strategy(
            name="finetune",
            check_params=strategy_rules(train=one_of(*TRAIN_MODES), random_init=one_of(*RANDOM_INIT_MODES)),
            evaluate=finetune,
            # 3 (oquab): a :random backbone trains every layer (random_init); 4: epochs
            # chosen on validation, then a refit on the whole training set
            version="4",
            description="Fine-tune from the pretrained weights: new head at lr, the top "
            "top_blocks blocks at lr × top_lr_mult (lr/10), every lower block at lr × "
            "lower_lr_mult (lr/100) — the recipe's 'top layers' read as the last two blocks "
            "(stages) below the head, 'intermediate' as every block beneath them, the stem "
            "included (or whole net / top blocks only / head only); a :random backbone trains "
            "every layer at lr with batch-norm statistics learnt (random_init='all'); "
            "SGD+momentum or AdamW, cosine schedule, random-resized-crop + flip, epochs chosen "
            "on validation then a refit on the whole training set (refit=false: the "
            "early-stopped run), AMP on GPU",
            default_params={
                "train": "layerwise",
                "random_init": "all",
                "top_blocks": 2,
                "top_lr_mult": 0.1,
                "lower_lr_mult": 0.01,
                "freeze_bn": True,
                **TRAINING_DEFAULTS,
            },
            inputs="images",
            cost=finetune_cost,
            data_parallel=True,
        )
    )
