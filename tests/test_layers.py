"""The package's floors: a module imports only from lower floors or from its own sub-package.

    6  cli/                                  commands, shared flags, NVIDIA/dvschultz script forms
    5  train/   tools/                        training | generation, mixing, video, projection, export
    4  metrics/                              FID/KID/PR/PPL/IS, detectors, memorisation
    3  io/                                   snapshots, NVIDIA pickles, pretrained names
    2  nn/                                   networks
    1  ops/   data/                          resampling and activation ops | data preparation, loader
    0  errors atomic device config cache distributed package_files image_files

train/ and tools/ share a floor and may not import each other; neither may ops/ and data/.
Checked on the source (every import statement, also those inside functions), so a lazy import cannot
hide an upward arrow.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "stylegan2_ada"

FLOORS = {
    "cli": 6,
    "train": 5,
    "tools": 5,
    "metrics": 4,
    "io": 3,
    "nn": 2,
    "ops": 1,
    "data": 1,
}
FLOOR_ZERO = 0  # every top-level module (errors.py, cache.py, ...) and the package itself


def _unit(parts: tuple[str, ...]) -> str:
    """'cli', 'train', ... for a sub-package; the module name for a top-level module."""
    return parts[0] if parts else "__init__"


def _floor(unit: str) -> int:
    return FLOORS.get(unit, FLOOR_ZERO)


def _imports(source: str, rel: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Targets of every import in the module at `rel` (its path below stylegan2_ada, without .py), as
    name parts below stylegan2_ada."""
    here = rel[:-1]  # the module's package, relative to stylegan2_ada
    targets = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - (node.level - 1)] if node.level > 1 else here
                module = tuple(node.module.split(".")) if node.module else ()
                if not module:  # `from . import x` / `from .. import x`: each name is a module
                    targets += [base + (alias.name,) for alias in node.names]
                else:
                    targets.append(base + module)
            elif node.module and node.module.split(".")[0] == "stylegan2_ada":
                targets.append(tuple(node.module.split(".")[1:]))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "stylegan2_ada":
                    targets.append(tuple(alias.name.split(".")[1:]))
    return targets


def _violations(modules: dict[tuple[str, ...], str]) -> list[str]:
    found = []
    for rel, source in modules.items():
        unit = _unit(rel) if len(rel) > 1 else rel[0]
        for target in _imports(source, rel):
            target_unit = _unit(target)
            if not target or target_unit == unit:
                continue
            same_floor = _floor(target_unit) == _floor(unit) > FLOOR_ZERO
            if _floor(target_unit) > _floor(unit) or same_floor:
                found.append(f"{'/'.join(rel)}.py imports {'.'.join(target)}")
    return found


def _package_modules() -> dict[tuple[str, ...], str]:
    return {path.relative_to(PACKAGE).with_suffix("").parts: path.read_text() for path in PACKAGE.rglob("*.py")}


def test_no_import_runs_upward_or_sideways() -> None:
    violations = _violations(_package_modules())
    assert not violations, "imports that run upward or sideways:\n" + "\n".join(violations)


def test_the_checker_can_fail() -> None:
    # Lazy imports inside functions count, relative and absolute spellings alike.
    probe = {
        ("io", "probe"): "def f():\n    from ..cli import common\n",
        ("train", "probe"): "import stylegan2_ada.tools.render\n",
        ("data", "probe"): "from .. import ops\n",
        ("cache",): "from .nn import Generator\n",
        ("tools", "fine"): "from ..metrics import memorization\nfrom . import render\nfrom ..errors import UserError\n",
    }
    assert _violations(probe) == [
        "io/probe.py imports cli",
        "train/probe.py imports tools.render",
        "data/probe.py imports ops",
        "cache.py imports nn",
    ]
