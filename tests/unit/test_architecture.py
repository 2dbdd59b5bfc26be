"""The API process stays light, and the import rules in pyproject.toml hold."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_api_process_never_imports_the_ml_stack(tmp_path):
    code = (
        "import sys, backend.app, backend.cli; app = backend.app.create_app(); "
        "heavy = [m for m in ('torch', 'transformers', 'peft', 'trl', 'worker') if m in sys.modules]; "
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"AFINA_HOME": str(tmp_path), "PATH": ""},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_import_contracts_hold():
    result = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
