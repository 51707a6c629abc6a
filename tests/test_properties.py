"""Every parser that takes outside input gives a result or one VidsegError, never another exception,
and never allocates by what the input claims beyond a frame."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vidseg.config import load_config
from vidseg.errors import VidsegError
from vidseg.masks import Rle, decode_rle
from vidseg.prompts.spec import load_prompt_file, parse_cli_prompts
from vidseg.redact import redact_text, redact_url, url_secrets
from vidseg.sinks.redis.schema import RedisConfig, decode_prompt

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# JSON-like values, including deep nesting and the wrong types in every place.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=30,
)
prompt_keys = st.sampled_from(["id", "points", "labels", "box", "mask", "frame", "remove", "request_id", "x"])
prompt_bodies = st.dictionaries(prompt_keys, json_values, max_size=6)
mask_bodies = st.fixed_dictionaries(
    {"id": st.integers(-3, 300), "mask": st.fixed_dictionaries({
        "size": st.lists(st.integers(-5, 10**6) | st.text(max_size=3), min_size=0, max_size=3),
        "counts": st.text(max_size=30) | st.integers() | st.none(),
    })}
)


def _only_vidseg_errors(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except VidsegError:
        return None


@SETTINGS
@given(st.text(max_size=40), st.text(max_size=40), st.text(max_size=40))
def test_command_line_prompts(point, box, mask):
    _only_vidseg_errors(parse_cli_prompts, [point], [box], [])
    _only_vidseg_errors(parse_cli_prompts, [], [], [mask])


@SETTINGS
@given(st.one_of(prompt_bodies, mask_bodies, json_values), st.sampled_from(["1", "2", "x", None]))
def test_redis_prompt_entries(body, version):
    fields: dict[bytes, bytes] = {b"prompt": json.dumps(body).encode()}
    if version is not None:
        fields[b"schema_version"] = version.encode()
    tracemalloc.start()
    try:
        _only_vidseg_errors(decode_prompt, fields, (48, 64))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000  # never an allocation sized by the entry's claims


@SETTINGS
@given(st.binary(max_size=200))
def test_redis_prompt_entries_of_raw_bytes(raw):
    _only_vidseg_errors(decode_prompt, {b"prompt": raw, raw[:5]: raw})


def test_a_deeply_nested_entry_is_one_error():
    with pytest.raises(VidsegError):
        decode_prompt({b"prompt": b"[" * 100_000})
    with pytest.raises(VidsegError):
        decode_prompt({b"prompt": b'{"a":' * 50_000 + b"1" + b"}" * 50_000})


@SETTINGS
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode),
                 st.lists(prompt_bodies, max_size=4).map(lambda v: json.dumps(v).encode())),
       st.sampled_from([".json", ".yaml"]))  # fmt: skip
def test_prompt_files(tmp_path_factory, content, suffix):
    file = Path(tmp_path_factory.mktemp("p")) / f"prompts{suffix}"
    file.write_bytes(content)
    _only_vidseg_errors(load_prompt_file, file)


@pytest.mark.parametrize("content", [b"[" * 6000 + b"]" * 6000, b"- " * 6000 + b"1", b"\xff\xfe\x00\x01"])
def test_hostile_prompt_files_are_one_error(tmp_path, content):
    for suffix in (".json", ".yaml"):
        file = tmp_path / f"p{suffix}"
        file.write_bytes(content)
        with pytest.raises(VidsegError):
            load_prompt_file(file)


@SETTINGS
@given(st.one_of(st.text(max_size=200).map(str.encode), st.binary(max_size=200),
                 st.dictionaries(st.text(max_size=8), json_values, max_size=4).map(lambda d: json.dumps(d).encode())))  # fmt: skip
def test_config_files(tmp_path_factory, content):
    file = Path(tmp_path_factory.mktemp("c")) / "preset.yaml"
    file.write_bytes(content)
    _only_vidseg_errors(load_config, file)


@pytest.mark.parametrize("content", [b"tracker: 5", b"tracker: [1, 2]", b"- " * 6000 + b"1", b"\xff\xfe",
                                     b"tracker: {image_size: abc}", b"{1: 2}"])
def test_hostile_config_files_are_one_error(tmp_path, content):
    file = tmp_path / "preset.yaml"
    file.write_bytes(content)
    with pytest.raises(VidsegError):
        load_config(file)


@SETTINGS
@given(st.tuples(st.integers(0, 64), st.integers(0, 64)), st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=127), max_size=40))
def test_rle_masks(size, counts):
    """Any counts string: a mask of its size, or one error; never a write past the mask (the
    runs are checked before decoding; pycocotools alone would overflow its buffer)."""
    rle = _only_vidseg_errors(Rle.from_json, {"size": list(size), "counts": counts})
    if rle is not None:
        try:
            mask = decode_rle(rle)
        except VidsegError:
            return
        assert mask.shape == size


@SETTINGS
@given(st.text(max_size=60), st.text(max_size=12).filter(lambda p: len(p) >= 3 and not set(p) & set("@&")))
def test_stream_urls_never_leak_or_raise(tail, password):
    """(An unencoded '@' ends the user info and an unencoded '&' a query value: such a
    password is not one URL parsers see either.)"""
    for url in (f"redis://user:{password}@{tail}", f"rtsp://{tail}?password={password}", tail):
        clean = redact_url(url)
        secrets = url_secrets(url)
        if password in url and url != tail:
            assert password not in redact_text(f"failed: {url}", secrets)
        assert isinstance(clean, str)
        _only_vidseg_errors(RedisConfig, url, "cam")
