"""The one cleaner of URLs and error text."""

from __future__ import annotations

import pytest

from vidseg.redact import redact_text, redact_url, url_secrets


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://:hunter2@cache:6379/0", "redis://***@cache:6379/0"),
        ("redis://user:hunter2@cache:6379/0", "redis://***@cache:6379/0"),
        ("rediss://cache:6380/0?password=hunter2&ssl_cert_reqs=none", "rediss://cache:6380/0?password=***&ssl_cert_reqs=none"),
        ("rtsp://admin:p@ss:w@rd@10.0.0.9:554/stream1", "rtsp://***@10.0.0.9:554/stream1"),
        ("https://cams.example/live.m3u8?token=abc.def&quality=hi", "https://cams.example/live.m3u8?token=***&quality=hi"),
        ("http://h/x?API_KEY=zz&Sig=yy", "http://h/x?API_KEY=***&Sig=***"),
        ("redis://127.0.0.1:6379", "redis://127.0.0.1:6379"),
        ("unix:///run/redis.sock?db=0&password=x", "unix:///run/redis.sock?db=0&password=***"),
        ("clip.mp4", "clip.mp4"),
    ],
)
def test_urls_lose_their_credentials(url, expected):
    assert redact_url(url) == expected


def test_text_quoting_urls_is_cleaned():
    text = ("Server returned 401 Unauthorized (authorization failed): 'rtsp://cam:s3cr3t@127.0.0.1:8554/live' "
            "and redis://:pw@h:1/0?token=t0k")  # fmt: skip
    out = redact_text(text)
    assert "s3cr3t" not in out and ":pw@" not in out and "t0k" not in out
    assert "rtsp://***@127.0.0.1:8554/live" in out and "401 Unauthorized" in out


def test_secrets_quoted_without_their_url_are_cleaned_too():
    url = "redis://operator:Very%Secret@h:1/0?password=qp-secret"
    secrets = url_secrets(url)
    assert "Very%Secret" in secrets and "qp-secret" in secrets
    out = redact_text("AUTH failed for operator with Very%Secret (qp-secret)", secrets)
    assert "Very%Secret" not in out and "qp-secret" not in out


@pytest.mark.parametrize("password", ["abc#def", "a/b?c", "pa ss", "p@ss", "%41bc", "x:y"])
def test_passwords_with_url_syntax_in_them_are_still_removed(password):
    url = f"redis://default:{password}@cache:6379/0"
    assert password not in redact_url(url) and redact_url(url).endswith("@cache:6379/0")
    assert password in url_secrets(url)
    assert password not in redact_text(f"Error connecting to {url}: refused ({password})", url_secrets(url))
