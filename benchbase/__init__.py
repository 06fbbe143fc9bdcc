"""benchbase: how well does a pretrained ConvNet transfer, and with which strategy?

Write a plugin
--------------
A plugin is a module whose functions carry ``@benchbase.hookimpl``::

    # my_backbones.py
    import torchvision
    from benchbase import Backbone, hookimpl

    @hookimpl
    def register_backbones(register):
        register(Backbone(
            name="my/resnet18",
            build=lambda pretrained: torchvision.models.resnet18(
                weights="DEFAULT" if pretrained else None),
            layers={"layer3": "layer3", "pool": "avgpool"},
            default_layer="pool",
        ))

and is announced in its package's ``pyproject.toml``::

    [project.entry-points.benchbase]
    my_backbones = "my_backbones"

After ``pip install``, ``benchbase list backbones`` shows ``my/resnet18``. The hooks are
documented in :mod:`benchbase.hookspecs`; :mod:`benchbase.testing` has fixtures and
contract checks for plugin authors.
"""

from __future__ import annotations

import pluggy

from benchbase.api.command import Command
from benchbase.api.cost import CellCost, CostShape, Fit
from benchbase.api.metric import Metric
from benchbase.api.output_format import OutputFormat
from benchbase.api.types import (
    Backbone,
    Cell,
    Dataset,
    DatasetData,
    FeatureTask,
    ImageTask,
    ObjectBox,
    Outcome,
    Result,
    Sample,
    SourceHalf,
    Split,
    Strategy,
    Suite,
    WeightsSource,
)
from benchbase.errors import BenchbaseError, DataLayoutError
from benchbase.run.frame import load_results

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("benchbase")

__all__ = [
    "Backbone",
    "BenchbaseError",
    "Cell",
    "CellCost",
    "Command",
    "CostShape",
    "DataLayoutError",
    "Dataset",
    "DatasetData",
    "FeatureTask",
    "Fit",
    "ImageTask",
    "ObjectBox",
    "Metric",
    "Outcome",
    "OutputFormat",
    "Result",
    "Sample",
    "SourceHalf",
    "Split",
    "Strategy",
    "Suite",
    "WeightsSource",
    "__version__",
    "hookimpl",
    "load_results",
]
