"""A password given in any URL form never appears in any output, log, file or Redis entry."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from tests.conftest import RedisServer
from vidseg.datasets.moving_shapes import moving_shapes_clip, write_clip_video

pytestmark = pytest.mark.timeout(600)
ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "Zq7-s3cr3t-pw"  # distinctive: any occurrence is a leak


def _vidseg(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "vidseg", "-v", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip


def _redis_dump(client: redis.Redis) -> bytes:
    out = []
    for key in client.scan_iter():
        out.append(key)
        if client.type(key) == b"stream":
            for entry_id, fields in client.xrange(key):
                out += [entry_id, *fields.keys(), *fields.values()]
        else:
            out.append(repr(client.dump(key)).encode())
    return b"\n".join(out)


def test_no_command_shows_the_password_in_any_url_form(tmp_path):
    server = RedisServer(tmp_path / "redis", password=PASSWORD)
    server.folder.mkdir()
    server.start()
    try:
        clip = moving_shapes_clip(num_frames=4, height=64, width=96, num_objects=1, seed=1, fps=25)
        source = write_clip_video(clip, tmp_path / "clip.mp4", fps=25)
        port = server.port
        forms = {
            "userinfo": f"redis://:{PASSWORD}@127.0.0.1:{port}/0",
            "user-and-password": f"redis://default:{PASSWORD}@127.0.0.1:{port}/0",
            "query": f"redis://127.0.0.1:{port}/0?password={PASSWORD}",
        }
        wrong = {name: url.replace(PASSWORD, PASSWORD + "x") for name, url in forms.items()}
        texts: list[str] = []
        for name, url in {**forms, **{f"wrong-{k}": v for k, v in wrong.items()}}.items():
            out = tmp_path / "runs" / name
            run = _vidseg("run", str(source), "--out", str(out), "--redis", url, "--source-id", "cam",
                          "--point", "40,30", "--random-weights", "--image-size", "64", cwd=tmp_path)  # fmt: skip
            prompt = _vidseg("prompt", "cam", "--redis", url, "--point", "2:10,10", cwd=tmp_path)
            texts += [run.stdout, run.stderr, prompt.stdout, prompt.stderr]
            if name.startswith("wrong"):
                assert run.returncode == 2 and "refused the credentials" in run.stderr, run.stderr
                assert prompt.returncode == 2 and "refused the credentials" in prompt.stderr
            else:
                assert run.returncode == 0, run.stderr
                assert prompt.returncode == 0, prompt.stderr
        files = [p for p in tmp_path.rglob("*") if p.is_file() and "redis" not in p.parts]
        assert any(p.name == "manifest.json" for p in files)
        for path in files:
            assert PASSWORD.encode() not in path.read_bytes(), path
        for text in texts:
            assert PASSWORD not in text
        client = redis.Redis(host="127.0.0.1", port=port, password=PASSWORD)
        dump = _redis_dump(client)
        client.close()
        assert b"vidseg:cam:frames" in dump and PASSWORD.encode() not in dump
    finally:
        server.stop()


def test_a_live_feed_password_appears_nowhere(tmp_path, redis_server):
    from tests.conftest import RtspFeed

    feed = RtspFeed(user="camuser", password=PASSWORD).start()
    try:
        out = tmp_path / "live"
        run = _vidseg("run", feed.url, "--out", str(out), "--redis", redis_server.url, "--max-frames", "15",
                      "--point", "160,120", "--random-weights", "--image-size", "64", cwd=tmp_path)  # fmt: skip
        info = _vidseg("info", feed.url, cwd=tmp_path)
        wrong = _vidseg("info", feed.url.replace(PASSWORD, "nope-" + PASSWORD[::-1]), cwd=tmp_path)
    finally:
        feed.stop()
    assert run.returncode == 0, run.stderr
    assert info.returncode == 0 and "rtsp://***@127.0.0.1" in info.stdout
    assert wrong.returncode == 2 and "check the user name and password" in wrong.stderr
    for text in (run.stdout, run.stderr, info.stdout, info.stderr, wrong.stdout, wrong.stderr):
        assert PASSWORD not in text and "camuser" not in text
    for path in tmp_path.rglob("*"):
        assert PASSWORD not in path.name
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path
    client = redis.Redis.from_url(redis_server.url)
    dump = _redis_dump(client)
    client.close()
    assert b"vidseg:live:frames" in dump and PASSWORD.encode() not in dump
