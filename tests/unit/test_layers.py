"""pyproject's import-linter contracts hold, and they are not contracts that cannot fail: each import that crosses a
layer the wrong way, planted in a copy of the tree, breaks one."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINTER = Path(sys.executable).with_name("lint-imports")
CONTRACTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


def lint(where: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINTER), "--no-cache"], cwd=where, capture_output=True, text=True,
                          env={"PATH": str(LINTER.parent), "PYTHONPATH": str(where)})


def test_import_contracts_hold() -> None:
    done = lint(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(("module", "planted", "broken"), [
    # a use-case module (it reaches the database) imported by the domain: the example the layering was missed on
    ("services/warehouse/domain/pick_path.py", "from services.warehouse import picking", "layered"),
    ("services/orders/store.py", "from services.orders import handlers", "layered"),
    ("services/returns/tables.py", "from services.returns import store", "layered"),
    ("services/routing/waves.py", "from services.routing import dispatching", "layered"),
    ("services/tracking/domain/status.py", "import sqlalchemy", "pure"),
    ("services/common/processor.py", "from services.orders import tables", "knows no service"),
    ("services/returns/handlers.py", "from services.orders import store", "do not import each other"),
    # SQL written outside a store: in a handler, in a use case, in a job
    ("services/warehouse/handlers.py", "from sqlalchemy import select", "SQL lives in the stores"),
    ("services/warehouse/allocating.py", "from services.warehouse import tables", "SQL lives in the stores"),
    ("services/routing/waves.py", "from sqlalchemy.dialects.postgresql import insert", "SQL lives in the stores"),
    ("services/tracking/observing.py", "from services.tracking.tables import shipments", "SQL lives in the stores"),
    # a use case added beneath the store, or a store reaching up into its use cases
    ("services/warehouse/store.py", "from services.warehouse import stock_alerts", "layered"),
])
def test_an_import_across_a_layer_the_wrong_way_breaks_a_contract(tmp_path: Path, module: str, planted: str,
                                                                   broken: str) -> None:
    for part in ("services", "schemas", "pyproject.toml"):
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(source, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, tmp_path / part)
    target = tmp_path / module
    target.write_text(target.read_text() + f"\n{planted}  # planted by the test\n")
    done = lint(tmp_path)
    assert done.returncode != 0, f"planting `{planted}` in {module} broke no contract"
    (name,) = [c["name"] for c in CONTRACTS if broken in c["name"]]
    said = " ".join(done.stdout.split())  # the linter wraps long names
    assert f"{name} BROKEN" in said, done.stdout[-2000:]
