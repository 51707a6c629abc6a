"""Makefile: `make demo` keeps the CPU preset when ARGS adds flags; `make test` runs lint and pytest."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRESET = ["--config", "configs/cpu-demo.yaml"]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed here")


def _dry_run(*make_args: str) -> list[str]:
    """The recipe lines ``make -n`` prints (nothing runs; setup's line is printed, not run)."""
    env = {k: v for k, v in os.environ.items() if k not in {"ARGS", "CONFIG", "MAKEFLAGS", "MAKELEVEL", "MFLAGS"}}
    proc = subprocess.run(["make", "-n", "-C", str(ROOT), *make_args], capture_output=True, text=True, env=env,
                          timeout=60)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def _demo_arguments(*make_args: str) -> list[str]:
    """What `make demo ...` passes to ``vidseg demo``."""
    lines = [line for line in _dry_run("demo", *make_args) if "-m vidseg demo" in line]
    assert len(lines) == 1, lines
    words = shlex.split(lines[0])
    return words[words.index("demo") + 1 :]


@pytest.mark.parametrize(
    ("make_args", "expected"),
    [
        ((), PRESET),
        (("ARGS=--semantic",), [*PRESET, "--semantic"]),
        (("ARGS=--random-weights --image-size 256",), [*PRESET, "--random-weights", "--image-size", "256"]),
        (("ARGS=--config configs/gpu.yaml",), ["--config", "configs/gpu.yaml"]),
        (("ARGS=--semantic --config=configs/gpu.yaml",), ["--semantic", "--config=configs/gpu.yaml"]),
        (("CONFIG=configs/gpu.yaml", "ARGS=--semantic"), ["--config", "configs/gpu.yaml", "--semantic"]),
        (("CONFIG=",), []),  # no preset: the command's own defaults
    ],
)
def test_make_demo_keeps_the_cpu_preset_unless_another_config_is_given(make_args, expected):
    assert _demo_arguments(*make_args) == expected


def test_the_preset_exists():
    assert (ROOT / PRESET[1]).is_file()


def test_make_test_runs_the_linters_and_the_test_suite():
    lines = _dry_run("test")
    assert any("ruff check" in line for line in lines) and any(line.endswith("mypy") for line in lines)
    assert any("-m pytest" in line for line in lines)
