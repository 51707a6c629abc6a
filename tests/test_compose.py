"""docker-compose.yml: the vidseg service publishes to the compose Redis; the images are built
once (no package installed at start-up, one image for both vidseg services); a restart keeps the
outputs of the runs before it."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _words(service: dict[str, Any], key: str) -> list[str]:
    """A service's ``command`` or ``entrypoint`` (a list, or a string compose splits as a shell
    would) as its words."""
    value = service.get(key)
    if value is None:
        return []
    return shlex.split(value) if isinstance(value, str) else [str(v) for v in value]


def _runs(service: dict[str, Any]) -> str:
    return " ".join(_words(service, "entrypoint") + _words(service, "command"))


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


def test_no_service_installs_packages_when_it_starts():
    for name, service in _compose()["services"].items():
        assert not re.search(r"apt-get|apk add|pip install", _runs(service)), f"{name} installs packages at every start"


def test_the_feed_runs_an_image_built_once_with_the_rtsp_servers_packages():
    feed = _compose()["services"]["feed"]
    assert feed["image"] == "vidseg-feed:local"
    dockerfile = (ROOT / feed["build"]["context"] / feed["build"]["dockerfile"]).read_text()
    setup = (ROOT / "scripts" / "setup.sh").read_text()
    packages = re.search(r"need_apt\+=\((python3-gi[^)]*)\)", setup)
    assert packages is not None
    for package in packages.group(1).split():  # the packages setup.sh installs for the same script
        assert package in dockerfile
    script = next(word for word in feed["command"] if word.endswith("rtsp_test_server.py"))
    assert f"COPY pipelines/rtsp_test_server.py {script}" in dockerfile


def test_both_vidseg_services_run_one_image_built_once():
    services = _compose()["services"]
    image = services["vidseg"]["image"]
    assert services["vidseg-live"]["image"] == image
    assert [name for name, s in services.items() if s.get("image") == image and "build" in s] == ["vidseg"]
    assert all(s.get("image") for s in services.values() if "build" in s)  # no image named after its service


def test_a_restarting_service_never_overwrites_earlier_outputs():
    restarting = {name: s for name, s in _compose()["services"].items() if s.get("restart", "no") != "no"}
    assert "vidseg-live" in restarting
    for name, service in restarting.items():
        assert "--overwrite" not in _runs(service).split(), name


def test_each_start_of_the_live_service_writes_a_folder_of_its_own(tmp_path):
    """The service's entrypoint and command, as the container runs them (compose's $$ is a $),
    with a stand-in vidseg that records its arguments: two starts, two folders under out/live."""
    live = _compose()["services"]["vidseg-live"]
    argv = [word.replace("$$", "$") for word in _words(live, "entrypoint")] + _words(live, "command")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "vidseg").write_text('#!/bin/sh\nprintf "%s\\n" "$@" > "$RECORD"\n')
    (bin_dir / "vidseg").chmod(0o755)
    outs = []
    for start in range(2):
        record = tmp_path / f"start{start}.txt"
        env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "RECORD": str(record)}
        subprocess.run(argv, cwd=tmp_path, env=env, check=True, timeout=30)
        args = record.read_text().splitlines()
        assert args[:-2] == live["command"] and args[-2] == "--out"
        assert re.fullmatch(r"out/live/\d{8}T\d{6}Z", args[-1]), args[-1]
        outs.append(args[-1])
        time.sleep(1.1)  # the folder is named to the second
    assert outs[0] != outs[1]
    assert "./out:/app/out" in live["volumes"]  # out/ of the checkout, under the image's WORKDIR /app
    assert "WORKDIR /app" in (ROOT / "Dockerfile").read_text()


def test_the_feeds_health_check_passes_once_the_feed_listens(rtsp_feed):
    """vidseg-live starts when the feed is healthy, so it does not fail (and restart) while the
    feed starts; the check, run as the image's python3 would, against the test feed's port."""
    services = _compose()["services"]
    assert services["vidseg-live"]["depends_on"]["feed"]["condition"] == "service_healthy"
    test = services["feed"]["healthcheck"]["test"]
    assert test[0] == "CMD" and test[1] == "python3"
    check = [sys.executable, *(word.replace("8554", str(rtsp_feed.port)) for word in test[2:])]
    assert subprocess.run(check, capture_output=True, timeout=30).returncode == 0
    rtsp_feed.stop()
    assert subprocess.run(check, capture_output=True, timeout=30).returncode != 0
