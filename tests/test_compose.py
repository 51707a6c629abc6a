"""docker-compose.yml: the vidseg service publishes to the compose Redis."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import redis
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_the_vidseg_service_publishes_to_the_compose_redis():
    services = _compose()["services"]
    vidseg, store = services["vidseg"], services["redis"]
    command = vidseg["command"]
    url = command[command.index("--redis") + 1]
    assert url.startswith("redis://redis:") and url == vidseg["environment"]["VIDSEG_REDIS_URL"]
    assert "redis" in vidseg["depends_on"] and store["image"].startswith("redis:")
    assert command[0] == "demo"


def test_the_demo_publishes_where_vidseg_redis_url_points(tmp_path, redis_server):
    """What the compose service runs, against a real server: the demo reads VIDSEG_REDIS_URL."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VIDSEG_REDIS_URL": redis_server.url}
    proc = subprocess.run(
        [sys.executable, "-m", "vidseg", "demo", "--frames", "6", "--out", str(tmp_path / "demo"), "--no-download"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    client = redis.Redis.from_url(redis_server.url)
    assert client.xlen("vidseg:demo:frames") == 6
    client.close()
    assert "a consumer read 6 frame entries" in proc.stderr


def _compose_command() -> list[str] | None:
    """``docker compose`` (v2 plugin) or ``docker-compose`` (v1), whichever is installed."""
    if shutil.which("docker") is not None:
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, timeout=60)
        if probe.returncode == 0:
            return ["docker", "compose"]
    return ["docker-compose"] if shutil.which("docker-compose") is not None else None


def test_docker_compose_accepts_the_file():
    command = _compose_command()
    if command is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed here")
    proc = subprocess.run([*command, "-f", str(ROOT / "docker-compose.yml"), "config", "--quiet"],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr


def test_the_live_path_runs_feed_to_vidseg_to_redis():
    services = _compose()["services"]
    feed, live = services["feed"], services["vidseg-live"]
    assert "rtsp_test_server.py" in " ".join(feed["command"]) and "0.0.0.0" in " ".join(feed["command"])
    command = live["command"]
    assert command[:2] == ["run", "rtsp://feed:8554/live"]
    assert command[command.index("--redis") + 1].startswith("redis://redis:")
    assert {"feed", "redis"} <= set(live["depends_on"])
