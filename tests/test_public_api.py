"""The package's public API: lazy, complete, and free of side effects at import."""

from __future__ import annotations

import subprocess
import sys

import vidseg


def test_every_exported_name_resolves():
    for name in vidseg.__all__:
        assert getattr(vidseg, name) is not None, name
    assert vidseg.run_job.__module__ == "vidseg.pipeline.job"
    assert vidseg.Sam2Model.session


def test_importing_vidseg_loads_no_heavy_module_and_touches_nothing():
    code = (
        "import sys, vidseg; heavy = [m for m in ('torch', 'av', 'redis', 'sam2', 'cv2') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == ""


def test_an_unknown_name_says_what_exists():
    try:
        vidseg.nonexistent  # noqa: B018
    except AttributeError as exc:
        assert "run_job" in str(exc)
    else:
        raise AssertionError("expected AttributeError")
