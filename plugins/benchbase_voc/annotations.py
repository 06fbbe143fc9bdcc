"""PASCAL VOC ``Annotations/<id>.xml``: the object boxes of one image.

Each ``<object>`` has a ``<name>`` (the class), ``<difficult>`` and a ``<bndbox>`` whose
``<xmin> <ymin> <xmax> <ymax>`` are 1-based inclusive pixel coordinates (the devkit's
convention); they become :class:`benchbase.ObjectBox` edges (0-based, exclusive end).
``<part>`` and ``<occluded>`` children are skipped. A missing, undecodable or incomplete
file is a :class:`DataLayoutError` naming the file and what is wrong in it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from benchbase import ObjectBox
from benchbase.errors import DataLayoutError

_COORDS = ("xmin", "ymin", "xmax", "ymax")


def _bad(path: Path, year: str, what: str) -> DataLayoutError:
    return DataLayoutError(
        f"voc{year}: annotation file {path} {what}. Fix: re-extract the VOC{year} archives "
        "(every image of JPEGImages/ has its Annotations/<id>.xml)."
    )


def read_boxes(path: Path, classes: list[str], year: str) -> tuple[ObjectBox, ...]:
    """The objects of one annotation file, in file order."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise _bad(path, year, "is missing") from None
    except OSError as exc:
        raise _bad(path, year, f"cannot be read ({exc.strerror or exc})") from None
    if b"<!ENTITY" in data:  # devkit files never declare entities: refuse expansion tricks
        raise _bad(path, year, "declares XML entities (not a devkit annotation)")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise _bad(path, year, f"is not well-formed XML ({exc})") from None
    if root.tag != "annotation":
        raise _bad(path, year, f"has root element <{root.tag}>, expected <annotation>")
    boxes = []
    for k, obj in enumerate(root.iter("object"), 1):
        name = (obj.findtext("name") or "").strip()
        if name not in classes:
            raise _bad(path, year, f"object {k} has class {name!r}, not a VOC class")
        bndbox = obj.find("bndbox")
        if bndbox is None:
            raise _bad(path, year, f"object {k} ({name}) has no <bndbox>")
        try:
            xmin, ymin, xmax, ymax = (float(bndbox.findtext(c) or "") for c in _COORDS)
        except ValueError:
            values = {c: bndbox.findtext(c) for c in _COORDS}
            raise _bad(path, year, f"object {k} ({name}) has a bad <bndbox> {values}") from None
        if xmax < xmin or ymax < ymin:
            raise _bad(path, year, f"object {k} ({name}) has xmax < xmin or ymax < ymin")
        difficult = (obj.findtext("difficult") or "0").strip() == "1"
        boxes.append(ObjectBox(name, xmin - 1, ymin - 1, xmax, ymax, difficult))
    return tuple(boxes)
