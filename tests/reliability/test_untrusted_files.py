"""Untrusted files are data: no pickle is ever loaded, suite TOML is never executed."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from benchbase.errors import BenchbaseError
from benchbase.plugin.manager import Host
from benchbase.run.suites import expand, suite_from_toml

REPO = Path(__file__).resolve().parents[2]
SOURCES = sorted(p for folder in ("benchbase", "plugins") for p in (REPO / folder).rglob("*.py"))

#: Calls that unpickle: never allowed on files the user did not write themselves.
UNPICKLERS = {
    "pickle.load",
    "pickle.loads",
    "pickle.Unpickler",
    "cPickle.load",
    "dill.load",
    "dill.loads",
    "joblib.load",
    "cloudpickle.load",
    "cloudpickle.loads",
    "pd.read_pickle",
    "pandas.read_pickle",
    "np.lib.format.read_array",
}


def _calls(path: Path):  # noqa: ANN202
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node, ast.unparse(node.func)


def _kw(node: ast.Call, name: str) -> object:
    for kw in node.keywords:
        if kw.arg == name and isinstance(kw.value, ast.Constant):
            return kw.value.value
    return "missing"


def test_the_scan_sees_the_package():
    names = {p.relative_to(REPO).as_posix() for p in SOURCES}
    assert {
        "benchbase/extract/cache.py",
        "benchbase/run/store.py",
        "plugins/benchbase_timm/__init__.py",
    } <= names


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_no_pickle_is_loaded_and_torch_load_is_weights_only(path):
    for node, func in _calls(path):
        where = f"{path.relative_to(REPO)}:{node.lineno}: {ast.unparse(node)[:120]}"
        assert func not in UNPICKLERS, f"unpickling call {where}"
        if func == "torch.load" or func.endswith(".torch.load"):
            assert _kw(node, "weights_only") is True, (
                f"torch.load without weights_only=True: {where}"
            )
        if func in ("np.load", "numpy.load"):
            assert _kw(node, "allow_pickle") in (False, "missing"), (
                f"np.load(allow_pickle=True): {where}"
            )
        assert func not in ("eval", "exec"), f"{func} of a string: {where}"


def test_suite_toml_is_data_never_code(suite_file, tmp_path):
    marker = tmp_path / "pwned"
    payload = f"__import__('os').system('touch {marker}')"
    host = Host(entry_points=False)
    body = (
        f'datasets = ["digits"]\nbackbones = ["{payload}"]\n'
        'strategies = ["logreg"]\n[params.logreg]\nC = ["' + payload + '"]\n'
    )
    with pytest.raises(BenchbaseError, match="is not allowed"):  # a name is never a path
        suite_from_toml(suite_file(f'name = "{payload}"\n' + body))
    suite = suite_from_toml(suite_file('name = "pwn"\n' + body))
    assert suite.backbones == [payload]  # a string, kept as a string
    with pytest.raises(BenchbaseError, match="unknown backbone|no backbone|not registered"):
        expand(host, suite, None)
    assert not marker.exists()
