"""Figures (matplotlib, Agg backend, PNG): per-layer curves, transferability curves, t-SNE.

PNG files carry no timestamp or software metadata, so the same data give the same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from benchbase.errors import BenchbaseError
from benchbase.leaderboard import stats
from benchbase.leaderboard.collect import Method, layer_depth_key
from benchbase.leaderboard.model import metric_label
from benchbase.leaderboard.transfer import CURVES, TRANSFER_LAYER, curve_title, point

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def png_bytes(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})
    _pyplot().close(fig)
    return buf.getvalue()


def save_png(fig: Figure, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png_bytes(fig))
    return path


def _datasets(methods: list[Method]) -> list[str]:
    return list(dict.fromkeys(m.dataset for m in methods))


def _label(ax: Any, dataset: str, xlabel: str, metric: str) -> None:
    """One dataset's panel: its title, axis labels (the metric in %), grid and legend."""
    ax.set_title(dataset)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"{metric_label(metric)} (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)


def layers_figure(
    methods: list[Method],
    layer_key: Callable[[str, str], Any] = layer_depth_key,
) -> Figure | None:
    """Metric vs layer (depth order), one line per backbone × strategy, one panel per
    dataset; error bars: std over splits. None when no method was run on 2+ layers."""
    methods = [m for m in methods if not TRANSFER_LAYER.match(m.layer)]
    lines: dict[tuple[str, ...], list[Method]] = {}
    for m in methods:
        lines.setdefault((m.dataset, m.backbone, m.weights, m.strategy), []).append(m)
    lines = {k: v for k, v in lines.items() if len({m.layer for m in v}) > 1}
    if not lines:
        return None
    datasets = list(dict.fromkeys(k[0] for k in lines))
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(datasets), figsize=(5.5 * len(datasets), 4), squeeze=False)
    for ax, dataset in zip(axes[0], datasets, strict=True):
        keys = [k for k in lines if k[0] == dataset]
        for key in keys:
            ms = sorted(lines[key], key=lambda m: layer_key(m.backbone, m.layer))
            means, stds = zip(
                *(stats.mean_std([v * 100 for v in m.series()]) for m in ms), strict=True
            )
            x = np.arange(len(ms))
            ax.errorbar(
                x,
                means,
                yerr=[s or 0.0 for s in stds],
                marker="o",
                capsize=3,
                label=f"{key[1]} · {key[3]}",
            )
            ax.set_xticks(x, [m.layer for m in ms], rotation=30, ha="right")
        _label(ax, dataset, "layer (input → output)", lines[keys[0]][0].metric)
    fig.suptitle("Per-layer transfer (Zeiler & Fergus Table 7, DeCAF 5/6/7 style)", fontsize=10)
    fig.tight_layout()
    return fig


#: The colours of Yosinski et al.'s Figure 2: blues for the selffer B curves, reds for A
CURVE_STYLE = {
    "baseB": {"color": "0.25", "linestyle": ":"},
    "BnB": {"color": "#1f3b99", "linestyle": "-"},
    "BnB+": {"color": "#7fa7e6", "linestyle": "--"},
    "AnB": {"color": "#b2182b", "linestyle": "-"},
    "AnB+": {"color": "#f4a6a6", "linestyle": "--"},
}


def transfer_figure(methods: list[Method]) -> Figure | None:
    """Yosinski et al. 2014 Figure 2: accuracy vs n (layers copied), one line per curve
    (AnB, AnB+, BnB, BnB+) and backbone through the mean over splits, each split's value as
    a dot, baseB as a horizontal line. One panel per dataset."""
    rows = [m for m in methods if TRANSFER_LAYER.match(m.layer)]
    if not rows:
        return None
    datasets = _datasets(rows)
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(datasets), figsize=(6 * len(datasets), 4.2), squeeze=False)
    order = {c: i for i, c in enumerate(CURVES)}
    for ax, dataset in zip(axes[0], datasets, strict=True):
        lines: dict[tuple[str, str], list[Method]] = {}
        for m in rows:
            p = point(m.layer)
            if m.dataset == dataset and p is not None:
                lines.setdefault((m.backbone, p.curve), []).append(m)
        several = len({b for b, _ in lines}) > 1
        for (backbone, curve), ms in sorted(
            lines.items(), key=lambda kv: (kv[0][0], order[kv[0][1]])
        ):
            style = CURVE_STYLE[curve]
            label = curve_title(curve) + (f" · {backbone}" if several else "")
            if curve == "baseB":
                mean = stats.mean_std([v * 100 for v in ms[0].series()])[0]
                ax.axhline(mean, linewidth=1.2, label=label, **style)
                continue
            ms.sort(key=lambda m: point(m.layer).n)
            n = [point(m.layer).n for m in ms]
            series = [[v * 100 for v in m.series()] for m in ms]
            for x, values in zip(n, series, strict=True):
                ax.plot(
                    [x] * len(values), values, "o", markersize=3, alpha=0.5, color=style["color"]
                )
            means = [stats.mean_std(v)[0] for v in series]
            ax.plot(n, means, marker="o", linewidth=1.6, label=label, **style)
        _label(ax, dataset, "layer n at which the network is chopped and retrained", rows[0].metric)
    fig.suptitle("Transferability (Yosinski et al. 2014, Figure 2)", fontsize=10)
    fig.tight_layout()
    return fig


def tsne_figure(
    features: np.ndarray,
    labels: np.ndarray,
    classes: list[str],
    title: str,
    max_points: int = 1000,
    seed: int = 0,
) -> Figure:
    """t-SNE of ``features`` (a stratified subsample), coloured by class (DeCAF figure 1)."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    features = np.asarray(features, dtype=np.float32)
    labels = np.asarray(labels)
    if len(features) < 5:
        raise BenchbaseError(f"t-SNE needs at least 5 images, got {len(features)}")
    rng = np.random.default_rng(seed)
    keep = np.arange(len(features))
    if len(keep) > max_points:
        keep = np.sort(rng.choice(keep, max_points, replace=False))
    x, y = features[keep], labels[keep]
    perplexity = float(min(30.0, max(2.0, (len(x) - 1) / 4)))
    # one thread: OpenMP t-SNE is ~10x slower when it competes for cores
    with threadpool_limits(1):
        if x.shape[1] > 50:
            x = PCA(n_components=min(50, len(x) - 1), random_state=seed).fit_transform(x)
        emb = TSNE(
            n_components=2, init="pca", perplexity=perplexity, random_state=seed, max_iter=500
        ).fit_transform(x)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    cmap = plt.get_cmap("tab20" if len(classes) > 10 else "tab10")
    for c in np.unique(y):
        sel = y == c
        name = classes[int(c)] if 0 <= int(c) < len(classes) else str(c)
        ax.scatter(emb[sel, 0], emb[sel, 1], s=8, color=cmap(int(c) % cmap.N), label=name)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    if len(classes) <= 20:
        ax.legend(fontsize=6, markerscale=2, loc="best", ncol=2)
    fig.tight_layout()
    return fig
