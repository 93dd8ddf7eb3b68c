"""The architecture's rules (ARCHITECTURE.md), checked on the code itself."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path

import grimp

import pausepact
from pausepact.errors import PausepactError, UnavailableError, VerificationError

ROOT = Path(__file__).resolve().parent.parent


def _modules() -> list[str]:
    return sorted(m.name for m in pkgutil.walk_packages(pausepact.__path__, "pausepact.") if m.name)


def test_the_layer_contracts_hold() -> None:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert exe is not None
    res = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_no_module_imports_itself_through_a_cycle() -> None:
    graph = grimp.build_graph("pausepact")
    cycles = []
    for module in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(module):
            if imported != module and graph.chain_exists(imported, module):
                cycles.append((module, imported))
    assert cycles == []


def test_every_package_has_an_init_so_the_layers_see_it() -> None:
    src = ROOT / "src" / "pausepact"
    missing = [
        str(d.relative_to(src))
        for d in src.iterdir()
        if d.is_dir() and any(d.glob("*.py")) and not (d / "__init__.py").exists()
    ]
    assert missing == []


def test_every_error_pausepact_raises_has_the_one_root() -> None:
    strays = []
    for name in _modules():
        if name.startswith("pausepact.cli") or name.startswith("pausepact.guard.hf"):
            continue  # click's own exceptions; optional extras
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue  # an optional extra (lightning, transformers) not installed
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if (
                cls.__module__ == name
                and not cls.__name__.startswith("_")  # private control flow, never escapes
                and issubclass(cls, Exception)
                and not issubclass(cls, PausepactError)
            ):
                strays.append(f"{name}.{cls.__name__}")
    assert strays == []


def test_a_forgery_is_never_a_transport_failure() -> None:
    assert not issubclass(VerificationError, UnavailableError)
    assert not issubclass(UnavailableError, VerificationError)
    from pausepact.client import ClientError

    assert not issubclass(VerificationError, ClientError)


def test_every_estimator_name_a_pact_may_use_is_implemented() -> None:
    from pausepact.pact import estimator_names, estimators

    for name in estimator_names.known():
        assert callable(estimators.get(name))
