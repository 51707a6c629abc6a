"""A live feed's password kept off the command line: a user-only URL with the password given
apart (``LiveOptions.password``, which the CLI fills from VIDSEG_SOURCE_PASSWORD), or
``url-file:PATH``; against the real RTSP server with basic authentication, the password in no
output, log, file, Redis entry or process's command line (what ``ps`` shows)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import psutil
import pytest
import redis

from tests.conftest import RtspFeed
from vidseg.errors import ConfigError, SourceConnectionError, SourceNotFoundError
from vidseg.sources import PASSWORD_ENV, LiveOptions, LiveSource, open_source
from vidseg.sources.credentials import SourcePermissionError, with_password

pytestmark = pytest.mark.timeout(600)
ROOT = Path(__file__).resolve().parents[2]
USER = "camuser"
PASSWORD = "Kx9/p@ss:w%rd-7"  # distinctive, and with every character a URL must encode


@pytest.fixture
def auth_feed() -> Iterator[RtspFeed]:
    feed = RtspFeed(user=USER, password=PASSWORD).start()
    try:
        yield feed
    finally:
        feed.stop()


def _url_file(folder: Path, url: str, mode: int = 0o600, name: str = "cam1.url") -> Path:
    path = folder / name
    path.write_text(f"# the lobby camera\n\n{url}\n")
    path.chmod(mode)
    return path


def _vidseg(*args: str, cwd: Path, env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run ``vidseg`` and also return every process command line seen on the machine meanwhile."""
    command = [sys.executable, "-m", "vidseg", "-v", *args]
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    process = subprocess.Popen(command, cwd=cwd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen: set[str] = set()
    deadline = time.monotonic() + 300
    while process.poll() is None and time.monotonic() < deadline:
        for other in psutil.process_iter(["cmdline"]):
            seen.add(" ".join(other.info["cmdline"] or []))
        time.sleep(0.05)
    stdout, stderr = process.communicate(timeout=60)
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr), sorted(seen)


def _no_password_in(texts: list[str], folder: Path, client: redis.Redis | None = None) -> None:
    for text in texts:
        assert PASSWORD not in text and quote(PASSWORD, safe="") not in text
    for path in folder.rglob("*"):
        assert PASSWORD not in path.name
        if path.is_file() and path.suffix != ".url":
            assert PASSWORD.encode() not in path.read_bytes() and quote(PASSWORD, safe="").encode() not in path.read_bytes()
    if client is not None:
        for key in client.scan_iter():
            if client.type(key) == b"stream":
                for _, fields in client.xrange(key):
                    assert all(PASSWORD.encode() not in v for v in [*fields.keys(), *fields.values()])


def test_a_user_only_url_takes_the_password_given_apart(auth_feed):
    url = f"rtsp://{USER}@127.0.0.1:{auth_feed.port}/live"
    options = LiveOptions(open_timeout=5.0, read_timeout=2.0, password=PASSWORD)
    assert PASSWORD not in repr(options)
    with LiveSource(url, options) as source:
        frames = []
        for frame in source:
            frames.append(frame)
            if len(frames) == 5:
                break
    assert len(frames) == 5 and source.info.uri == f"rtsp://***@127.0.0.1:{auth_feed.port}/live"
    # Without it: one error saying where the password comes from, the user and password in neither.
    with pytest.raises(SourceConnectionError) as info:
        LiveSource(url, LiveOptions(open_timeout=5.0))
    message = str(info.value)
    assert "check the user name and password" in message and PASSWORD_ENV in message and "url-file:" in message
    assert USER not in message
    # A password in the URL itself wins over the one given apart.
    assert with_password(f"rtsp://{USER}:own@cam/s", PASSWORD) == f"rtsp://{USER}:own@cam/s"
    assert with_password("rtsp://cam/s", PASSWORD) == "rtsp://cam/s"


def test_vidseg_run_and_info_read_the_url_from_a_file_and_show_the_password_nowhere(auth_feed, redis_server, tmp_path):
    url_file = _url_file(tmp_path, auth_feed.url)
    source = f"url-file:{url_file}"
    out = tmp_path / "out"
    run, run_seen = _vidseg("run", source, "--out", str(out), "--redis", redis_server.url, "--max-frames", "15",
                            "--point", "160,120", "--random-weights", "--image-size", "64", cwd=tmp_path)  # fmt: skip
    info, info_seen = _vidseg("info", source, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert info.returncode == 0, info.stderr
    assert f"rtsp://***@127.0.0.1:{auth_feed.port}/live" in info.stdout
    assert not any(USER in text for text in (run.stdout, run.stderr, info.stdout, info.stderr))
    client = redis.Redis.from_url(redis_server.url)
    try:
        assert client.xlen("vidseg:cam1:frames") >= 10  # the source id is the file's name
        assert any("--password-stdin" in line for line in run_seen)  # the feed's own password was not on its line
        _no_password_in([run.stdout, run.stderr, info.stdout, info.stderr, *run_seen, *info_seen], tmp_path, client)
    finally:
        client.close()
    assert source in (out / "manifest.json").read_text()


def test_vidseg_run_and_info_take_the_password_from_the_environment(auth_feed, redis_server, tmp_path):
    url = f"rtsp://{USER}@127.0.0.1:{auth_feed.port}/live"
    env = {PASSWORD_ENV: PASSWORD}
    out = tmp_path / "out"
    run, run_seen = _vidseg("run", url, "--out", str(out), "--redis", redis_server.url, "--max-frames", "15",
                            "--point", "160,120", "--random-weights", "--image-size", "64", cwd=tmp_path,
                            env=env)  # fmt: skip
    info, info_seen = _vidseg("info", url, cwd=tmp_path, env=env)
    missing, _ = _vidseg("info", url, cwd=tmp_path, env={PASSWORD_ENV: ""})
    assert run.returncode == 0, run.stderr
    assert info.returncode == 0 and f"rtsp://***@127.0.0.1:{auth_feed.port}/live" in info.stdout, info.stderr
    assert missing.returncode == 2 and PASSWORD_ENV in missing.stderr
    client = redis.Redis.from_url(redis_server.url)
    try:
        assert client.xlen("vidseg:live:frames") >= 10
        _no_password_in([run.stdout, run.stderr, info.stdout, info.stderr, *run_seen, *info_seen], tmp_path, client)
    finally:
        client.close()
    assert USER not in (out / "manifest.json").read_text()


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_url_file_others_may_read_is_refused_with_the_chmod_to_run(tmp_path, mode):
    path = _url_file(tmp_path, f"rtsp://{USER}:{PASSWORD}@127.0.0.1:9/live", mode)
    with pytest.raises(SourcePermissionError) as info:
        open_source(f"url-file:{path}")
    assert isinstance(info.value, PermissionError)
    assert f"chmod 600 {path}" in str(info.value) and f"mode {mode:04o}" in str(info.value)
    assert PASSWORD not in str(info.value)


@pytest.mark.parametrize(
    ("content", "error", "says"),
    [
        (None, SourceNotFoundError, "no such file"),
        ("", ConfigError, "holds no URL"),
        ("# only a comment\n\n", ConfigError, "holds no URL"),
        (f"{PASSWORD}\n", ConfigError, "is not a URL"),  # a password alone on the line is never quoted
        ("/videos/clip.mp4\n", ConfigError, "is not a URL"),
        ("file:///videos/clip.mp4\n", ConfigError, "live feed's URL"),
    ],
)
def test_a_url_file_without_a_feed_url_is_one_clear_error(tmp_path, content, error, says):
    path = tmp_path / "cam.url"
    if content is not None:
        path.write_text(content)
        path.chmod(0o600)
    with pytest.raises(error) as info:
        open_source(f"url-file:{path}")
    assert says in str(info.value) and PASSWORD not in str(info.value)
