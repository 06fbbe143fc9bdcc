"""The class-halves protocol of Yosinski et al. 2014, for any multiclass dataset.

A dataset's classes are split into halves A and B: seeded at random (``halves_seed = N``:
the authors' own draw, ``numpy.random.RandomState([N]).choice(C, C // 2, replace=False)``
over the classes in the dataset's order, which for ILSVRC-2012 in synset order gives their
``half<N>A`` / ``half<N>B``), or given (``half_a = [class names]``, B the rest), or declared
by the dataset itself (``DatasetData.halves``: ImageNet's natural / man-made split). The
cells then see half B as the dataset (its classes, its train/test images of every split,
labels renumbered) and image strategies get half A of the same split as their source task
(``ImageTask.source``), so that ``transfer-n`` trains base networks on A and on B.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from benchbase.api.types import DatasetData, Sample, SourceHalf, Split
from benchbase.errors import BenchbaseError

#: Protocol options every dataset accepts (taken out before the dataset sees its options).
OPTIONS = ("halves_seed", "half_a")


def take_options(options: Mapping[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the dataset's own options, the class-halves options) of a suite's options table."""
    own = {k: v for k, v in (options or {}).items() if k not in OPTIONS}
    halves = {k: v for k, v in (options or {}).items() if k in OPTIONS}
    return own, halves


def random_halves(classes: Sequence[str], seed: int) -> tuple[list[str], list[str]]:
    """Yosinski et al.'s seeded random halves: A = ``len(classes) // 2`` classes drawn
    without replacement by ``RandomState([seed])`` (kept in dataset order), B the rest."""
    import numpy as np

    draw = np.random.RandomState([seed]).choice(len(classes), len(classes) // 2, replace=False)
    picked = {int(i) for i in draw}
    a = [c for i, c in enumerate(classes) if i in picked]
    b = [c for i, c in enumerate(classes) if i not in picked]
    return a, b


def halves_from_options(
    name: str, classes: Sequence[str], opts: Mapping[str, Any]
) -> tuple[list[str], list[str]]:
    """Halves (A, B) from the ``halves_seed`` or ``half_a`` option of dataset ``name``."""
    if "halves_seed" in opts and "half_a" in opts:
        raise BenchbaseError(
            f"[options.{name}]: give halves_seed (random halves) or half_a (the classes of half "
            "A), not both"
        )
    if "halves_seed" in opts:
        seed = opts["halves_seed"]
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise BenchbaseError(
                f"[options.{name}] halves_seed must be an integer ≥ 0, got {seed!r}"
            )
        return random_halves(classes, seed)
    given = opts["half_a"]
    if isinstance(given, str) or not isinstance(given, Sequence) or not given:
        raise BenchbaseError(
            f"[options.{name}] half_a must be a non-empty list of class names, got {given!r}"
        )
    unknown = [c for c in given if c not in classes]
    if unknown:
        raise BenchbaseError(
            f"[options.{name}] half_a names classes the dataset does not have: "
            f"{', '.join(map(str, unknown[:5]))}; its classes: {', '.join(classes[:8])} …"
        )
    a = [c for c in classes if c in set(given)]
    return a, [c for c in classes if c not in set(given)]


def _relabel(samples: Sequence[Sample], keep: dict[int, int]) -> list[Sample]:
    return [dataclasses.replace(s, label=keep[s.label]) for s in samples if s.label in keep]


def apply(name: str, data: DatasetData, opts: Mapping[str, Any]) -> DatasetData:
    """``data`` cut to half B (with half A as its source), when ``opts`` or the dataset ask
    for halves; ``data`` itself otherwise."""
    halves = data.halves
    if opts:
        halves = halves_from_options(name, data.classes, opts)
    if halves is None:
        return data
    a, b = list(halves[0]), list(halves[1])
    index = {c: i for i, c in enumerate(data.classes)}
    missing = [c for c in a + b if c not in index]
    if missing or set(a) & set(b) or not a or not b:
        raise BenchbaseError(
            f"dataset {name!r}: class halves must be two non-empty, disjoint lists of its "
            f"classes (unknown: {missing[:5]}, in both: {sorted(set(a) & set(b))[:5]})"
        )
    if data.splits and data.splits[0].train and isinstance(data.splits[0].train[0].label, tuple):
        raise BenchbaseError(
            f"dataset {name!r} is multilabel: class halves need one class per image"
        )
    to_a = {index[c]: i for i, c in enumerate(a)}
    to_b = {index[c]: i for i, c in enumerate(b)}
    splits = [Split(s.name, _relabel(s.train, to_b), _relabel(s.test, to_b)) for s in data.splits]
    source = {
        s.name: Split(s.name, _relabel(s.train, to_a), _relabel(s.test, to_a)) for s in data.splits
    }
    options = {**data.options, **dict(opts), "halves": f"{len(a)} A / {len(b)} B classes"}
    return dataclasses.replace(
        data, classes=b, splits=splits, options=options, source=SourceHalf(a, source)
    )
