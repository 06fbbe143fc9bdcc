"""Short row labels, as the papers print them: network, weights source, classifier.

A suite's ``labels`` table (``[labels]`` in a suite file) maps a layer name, a strategy name
(``layer-probe[svm]`` for one classifier of a probe) or a backbone spec to the text its rows
show, over the defaults below. The full backbone spec and weights id go in the caption once;
:func:`distinct` adds the weights tag, then the fields that differ, only where two rows
would otherwise read alike.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from benchbase.leaderboard.collect import Method
from benchbase.leaderboard.declared import registered

#: Built-in strategies' short names (a suite's labels override them; others keep their name).
CLASSIFIERS = {
    "linear-svm": "SVM",
    "linear-svm-aug": "SVM + aug",
    "logreg": "LogReg",
    "logreg-dropout": "LogReg + dropout",
    "svm-dropout": "SVM + dropout",
    "adaptation": "Adaptation",
    "adaptation-tiles": "Adaptation + tiles",
    "adaptation-patches": "Adaptation + patches",
    "finetune": "Fine-tuned",
    "transfer-n": "Transfer",
}
PROBE_CLASSIFIERS = {"svm": "SVM", "softmax": "Softmax", "logreg": "LogReg"}

#: (pattern on the bare model name, display) — the first match wins.
NETWORKS: tuple[tuple[str, str], ...] = (
    (r"^(?:tv_)?resnet(\d+)[a-z]?$", r"ResNet-\1"),
    (r"^wide_resnet(\d+)_(\d+)$", r"WRN-\1-\2"),
    (r"^resnext(\d+)_(\w+)$", r"ResNeXt-\1 \2"),
    (r"^vgg(\d+)_bn$", r"VGG-\1-BN"),
    (r"^vgg(\d+)$", r"VGG-\1"),
    (r"^alexnet$", "AlexNet"),
    (r"^(?:tf_)?efficientnet_lite(\d)$", r"EfficientNet-Lite\1"),
    (r"^(?:tf_)?efficientnet_(b\d)$", r"EfficientNet-\1"),
    (r"^vit_(tiny|small|base|large|huge)_patch(\d+)_\d+$", r"ViT-\1/\2"),
    (r"^convnext_(\w+)$", r"ConvNeXt-\1"),
    (r"^mobilenetv(\d)_(\w+)$", r"MobileNetV\1-\2"),
    (r"^densenet(\d+)$", r"DenseNet-\1"),
)
RANDOM = "random-init"


def split_spec(spec: str) -> tuple[str, str, bool]:
    """``timm/resnet50.tv_in1k:random`` → (``resnet50``, ``tv_in1k``, True)."""
    random = spec.endswith(":random")
    bare = spec.removesuffix(":random").rsplit("/", 1)[-1]
    model, _, tag = bare.partition(".")
    return model, tag, random


def network_name(spec: str) -> str:
    model, _, _ = split_spec(spec)
    for pattern, display in NETWORKS:
        if re.match(pattern, model):
            name = re.sub(pattern, display, model)
            return name.replace("ViT-base", "ViT-B").replace("ViT-large", "ViT-L")
    return model


def weights_tag(spec: str, weights: str) -> str:
    """What tells two weights of one network apart: the spec's tag, else the id's."""
    _, tag, _ = split_spec(spec)
    if tag:
        return tag
    if weights.startswith(RANDOM):
        return weights.removeprefix(RANDOM).strip("()").replace("=", " ") or "random"
    if weights.startswith("timm:"):
        return weights.rsplit(".", 1)[-1] if "." in weights else weights.removeprefix("timm:")
    if weights.startswith("torchvision:"):
        return weights.removeprefix("torchvision:").split("(")[0]
    if weights.startswith("sha256:"):
        return weights[:15]
    return weights[:16]


def weights_source(spec: str, weights: str) -> str:
    """``ImageNet``, ``ImageNet-21k``, ``random`` (initialisation) or ``pretrained`` (unknown origin)."""
    if weights.startswith(RANDOM) or spec.endswith(":random"):
        return "random"
    text = f"{spec} {weights}".lower()
    if re.search(r"in2[12]k(?!_ft)", text):
        return "ImageNet-21k"
    if spec.startswith(("timm/", "torchvision/")) or "in1k" in text or "imagenet" in text:
        return "ImageNet"
    return "pretrained"


@dataclass
class Labels:
    """Display names for one page: ``table`` (a suite file's ``[labels]``, for every row),
    then the ``labels`` of the row's own suite (``suites``: suite name → labels), then the
    defaults."""

    table: dict[str, str] = field(default_factory=dict)
    suites: dict[str, dict[str, str]] = field(default_factory=dict)

    def get(self, key: str, suite: str | None) -> str | None:
        if key in self.table:
            return self.table[key]
        return self.suites.get(suite or "", {}).get(key)

    def layer(self, layer: str, suite: str | None = None) -> str:
        if suite is None and len(self.suites) == 1:  # a column of a one-suite page
            suite = next(iter(self.suites))
        return self.get(layer, suite) or layer

    def classifier(self, m: Method) -> str:
        probe = m.params.get("classifier")
        if isinstance(probe, str):
            own = self.get(f"{m.strategy}[{probe}]", m.suite) or self.get(m.strategy, m.suite)
            return own or PROBE_CLASSIFIERS.get(probe, f"{m.strategy}[{probe}]")
        return self.get(m.strategy, m.suite) or CLASSIFIERS.get(m.strategy, m.strategy)

    def backbone(self, m: Method, tag: bool = False) -> str:
        """``ResNet-50 (ImageNet)``; with ``tag``: ``ResNet-50 (ImageNet, tv_in1k)``."""
        own = self.get(m.backbone, m.suite)
        if own is not None:
            return f"{own} ({weights_tag(m.backbone, m.weights)})" if tag else own
        source = weights_source(m.backbone, m.weights)
        extra = f", {weights_tag(m.backbone, m.weights)}" if tag else ""
        return f"{network_name(m.backbone)} ({source}{extra})"

    def legend(self, methods: Iterable[Method]) -> str:
        """One caption line: each network label with its spec and weights id."""
        seen: dict[str, str] = {}
        for m in methods:
            seen.setdefault(
                f"{m.backbone}|{m.weights}",
                f"{self.backbone(m)} = {m.backbone}, weights {m.weights or '?'}",
            )
        return "Networks: " + "; ".join(seen.values()) + "." if seen else ""


def suite_labels(names: Iterable[str]) -> dict[str, dict[str, str]]:
    """Suite name → ``labels`` for the registered suites among ``names`` (a TOML suite's
    are passed in by whoever loaded the file)."""
    out: dict[str, dict[str, str]] = {}
    for name in dict.fromkeys(names):
        suite = registered(name)
        if suite is not None:  # else a TOML suite, or one since removed
            out[name] = dict(suite.labels)
    return out


def value_text(v: Any) -> str:
    """A parameter value as a table prints it: ``0.1``, ``{0.1, 1, 10}``."""
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (list, tuple)):
        return "{" + ", ".join(value_text(x) for x in v) + "}"
    return str(v)


def _details(m: Method) -> list[str]:
    """The fields besides backbone/layer/strategy that make a configuration."""
    out = [f"{k}={value_text(v)}" for k, v in sorted(m.params.items())]
    out += [f"{k}={value_text(v)}" for k, v in sorted(m.options.items())]
    if m.input_size:
        out.append(f"{m.input_size} px")
    return [*out, f"suite {m.suite}"]


def distinct(methods: list[Method], parts: Callable[[Method, bool], list[str]]) -> list[str]:
    """One label per row (``methods[i]`` stands for row ``i``), unique where the rows differ.

    ``parts(m, tag)`` gives the label's pieces, with the weights tag when ``tag``. Rows that
    read alike get the weights tag, then the parameters/options/input size/suite that differ
    among them, then their first fingerprint.
    """
    labels = [" · ".join(parts(m, False)) for m in methods]

    def clashes() -> list[list[int]]:
        groups: dict[str, list[int]] = {}
        for i, text in enumerate(labels):
            groups.setdefault(text, []).append(i)
        return [g for g in groups.values() if len(g) > 1]

    for group in clashes():
        if len({methods[i].weights for i in group}) > 1:
            for i in group:
                labels[i] = " · ".join(parts(methods[i], True))
    for group in clashes():
        details = [_details(methods[i]) for i in group]
        common = set.intersection(*(set(d) for d in details))
        for i, own in zip(group, details, strict=True):
            differing = [text for text in own if text not in common]
            if differing:
                labels[i] += " [" + ", ".join(differing) + "]"
    for group in clashes():
        for i in group:
            m = methods[i]
            labels[i] += f" [{m.cells[m.splits[0]][:8]}]" if m.splits else ""
    return labels
