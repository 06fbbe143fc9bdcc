"""What produced the results on a page, taken from the stored cells only (deterministic)."""

from __future__ import annotations

from dataclasses import dataclass, field

from benchbase.leaderboard.collect import Method

SHOWN_PACKAGES = ("benchbase", "torch", "torchvision", "timm", "scikit-learn", "numpy", "python")


@dataclass
class Provenance:
    versions: dict[str, list[str]] = field(default_factory=dict)
    hardware: list[str] = field(default_factory=list)
    first: str = ""
    last: str = ""
    #: fingerprint → (dataset, split, backbone, weights, strategy)
    cells: dict[str, tuple[str, ...]] = field(default_factory=dict)


def gather(methods: list[Method]) -> Provenance:
    prov = Provenance()
    dates: list[str] = []
    for m in methods:
        for split in m.splits:
            info = m.info.get(split, {})
            fp = m.cells[split]
            prov.cells.setdefault(fp, (m.dataset, split, m.backbone, m.weights, m.strategy))
            for pkg in SHOWN_PACKAGES:
                v = info.get("versions", {}).get(pkg)
                if v and v not in prov.versions.setdefault(pkg, []):
                    prov.versions[pkg].append(v)
            host = info.get("host", {})
            hw = f"{info.get('device', '?')} on {host.get('machine', '?')} ({host.get('platform', '?')})"
            if hw not in prov.hardware:
                prov.hardware.append(hw)
            if info.get("finished_at"):
                dates.append(str(info["finished_at"]))
    if dates:
        prov.first, prov.last = min(dates), max(dates)
    prov.hardware.sort()
    for values in prov.versions.values():
        values.sort()
    return prov


def markdown(prov: Provenance) -> str:
    if not prov.cells:
        return "No results of ours on this page yet: published rows only."
    lines = [
        f"- results: {len(prov.cells)} cells, finished {prov.first} – {prov.last} UTC "
        "(times stored with the results)",
        "- versions: " + ", ".join(f"{pkg} {'/'.join(v)}" for pkg, v in prov.versions.items() if v),
        "- hardware: " + "; ".join(prov.hardware),
        "",
        "| fingerprint | dataset | split | backbone | weights | strategy |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for fp, (ds, split, bb, w, strat) in sorted(prov.cells.items(), key=lambda kv: (kv[1], kv[0])):
        lines.append(f"| `{fp}` | {ds} | {split} | {bb} | {w} | {strat} |")
    return "\n".join(lines)
