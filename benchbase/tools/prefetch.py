"""``benchbase fetch``: everything a suite needs on disk, fetched on a machine with a network.

Datasets through their cards (:func:`benchbase.data.download.download_dataset`: resumable,
checksummed, safe extraction); pretrained weights by building each backbone once, which
downloads them into the library's own cache (the hub cache, ``$TORCH_HOME``) where the
run's preflight finds them. What is already there is left alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from benchbase.data.download import download_dataset
from benchbase.errors import BenchbaseError
from benchbase.extract.backbones import resolve, resolve_weights
from benchbase.run.suites import call_load

if TYPE_CHECKING:
    from benchbase.api.types import Suite
    from benchbase.plugin.manager import Host


@dataclass
class FetchReport:
    """Per dataset and backbone: what was found, fetched, or is still to do (with the fix)."""

    done: list[str] = field(default_factory=list)
    todo: list[str] = field(default_factory=list)


def prefetch(
    host: Host,
    suite: Suite,
    data_root: Path | None,
    mirror: str | None = None,
    progress: bool = True,
    say: Callable[[str], None] = print,
) -> FetchReport:
    """Fetch every dataset (under ``data_root``) and every backbone's weights ``suite`` uses."""

    report = FetchReport()
    for name in suite.datasets:
        ds = host.datasets.get(name)
        if not ds.needs_data_root:
            report.done.append(f"{name}: ships its data")
            continue
        if data_root is None:
            raise BenchbaseError(
                f"suite {suite.name!r} reads {name!r} from files: pass --data-root DIR "
                "(or set BENCHBASE_DATA_ROOT)"
            )
        options = ds.resolve_options(suite.options.get(name))
        try:
            call_load(ds, data_root, options)
            report.done.append(f"{name}: present under {data_root}")
            continue
        except BenchbaseError:
            pass  # not (completely) there: fetch it
        try:
            manual = download_dataset(
                name, data_root, ds.read_card(), mirror=mirror, progress=progress, log=say
            )
        except BenchbaseError as exc:
            report.todo.append(f"{name}: {exc}")
            continue
        if manual:
            report.todo += [f"{name}: {step}" for step in manual]
        else:
            report.done.append(f"{name}: downloaded under {data_root}")
    for spec_name in suite.backbones:
        spec = resolve(host, spec_name)
        source = resolve_weights(spec)
        if source.state == "ok":
            report.done.append(f"{spec_name}: weights {source.where}")
            continue
        if source.state == "missing":  # downloads are off in this process
            report.todo.append(f"{spec_name}: {source.fix or source.where}")
            continue
        say(f"{spec_name}: fetching its weights ({source.where})")
        try:
            spec.build()
        except BenchbaseError as exc:
            report.todo.append(f"{spec_name}: {exc}")
            continue
        report.done.append(f"{spec_name}: weights fetched ({resolve_weights(spec).where})")
    return report
