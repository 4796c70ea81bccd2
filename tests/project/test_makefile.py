"""`make run` installs only what running needs and points links at its own port."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def dry_run(target: str, tmp_path: Path, *args: str) -> str:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    return subprocess.run(
        ["make", "-n", target, f"VENV={tmp_path / 'venv'}", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_make_run_installs_runtime_requirements_only(tmp_path):
    out = dry_run("run", tmp_path, "PORT=8101")
    assert "-r requirements.txt" in out
    assert "requirements-dev.txt" not in out
    assert "XW_PUBLIC_BASE_URL=http://127.0.0.1:8101 " in out


def test_make_test_installs_the_test_tools(tmp_path):
    assert "-r requirements-dev.txt" in dry_run("test", tmp_path)


def test_runtime_requirements_hold_no_test_tools():
    runtime = (ROOT / "requirements.txt").read_text().lower()
    for tool in ("pytest", "playwright", "hypothesis", "ruff", "schemathesis", "factory-boy"):
        assert tool not in runtime
    assert "gunicorn>=23,<24" in runtime
