"""The streams file: what an entry may say, each source's config from it, and bad files answered
in one line naming the entry and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from vidseg.errors import ConfigError
from vidseg.pipeline.config import JobConfig, SemanticConfig
from vidseg.pipeline.streams import LiveSpec, load_streams, positional_streams, stream_config
from vidseg.sinks.redis.schema import RedisConfig
from vidseg.sources import LiveOptions

GOOD = """
sources:
  - id: left
    source: left.mp4
    point: ["1:10,20", "1:30,40,0"]
    box: ["2:0,0,50,50@3"]
    every: 2
    start: 0.5
    end: 4
  - source: rtsp://127.0.0.1:8554/live
    semantic: false
    track_classes: [disc]
    live: {read_timeout: 3, reconnect_attempts: 5, max_latency: 0.5, segment_seconds: 60, transport: udp}
  - id: frames
    source: /data/frames
    prompts: prompts.yaml
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "streams.yaml"
    path.write_text(text)
    return path


def test_a_streams_file_gives_each_source_its_own_options(tmp_path):
    (tmp_path / "prompts.yaml").write_text("- {id: 3, points: [[5, 6]], frame: 2}\n")
    left, cam, frames = load_streams(_write(tmp_path, GOOD))
    assert (left.id, left.source, left.every, left.start, left.end) == ("left", str(tmp_path / "left.mp4"), 2, 0.5, 4.0)
    assert left.prompts is not None and [(p.prompt.obj_id, p.frame) for p in left.prompts] == [(1, None), (2, 3)]
    assert left.prompts[0].prompt.labels == (1, 0)
    assert (cam.id, cam.semantic, cam.track_classes, cam.prompts) == ("live", False, ("disc",), None)
    assert cam.live == LiveSpec(transport="udp", read_timeout=3.0, reconnect_attempts=5, max_latency=0.5,
                                segment_seconds=60.0)  # fmt: skip
    assert frames.source == "/data/frames" and frames.prompts is not None and frames.prompts[0].from_file

    base = JobConfig(source="", out=tmp_path / "out", redis=RedisConfig("redis://127.0.0.1:1/0", source_id="x"),
                     semantic=SemanticConfig("vidseg_unet_synthetic"), max_latency=2.0,
                     live=LiveOptions(open_timeout=4.0, read_timeout=9.0))  # fmt: skip
    one = stream_config(base, left, several=True)
    assert one.out == tmp_path / "out" / "left" and one.redis is not None and one.redis.source_id == "left"
    assert one.semantic == base.semantic and one.every == 2 and one.prompts == left.prompts
    two = stream_config(base, cam, several=True)
    assert two.semantic is None and two.track_classes == ("disc",) and two.max_latency == 0.5
    assert (two.live.transport, two.live.open_timeout, two.live.read_timeout, two.live.reconnect_attempts) == \
        ("udp", 4.0, 3.0, 5)  # fmt: skip
    assert two.segment_seconds == 60.0 and two.prompts == ()
    assert stream_config(base, left, several=False).out == tmp_path / "out"  # one source: --out itself


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sources:\n  - {source: a.mp4, colour: red}\n", "entry 0: unknown key 'colour'"),
        ("sources:\n  - {id: a, source: a.mp4}\n  - {id: a, source: b.mp4}\n",
         "entry 1 (id 'a'): key 'id': 'a' is also the id of streams file"),
        ("sources:\n  - {source: x/a.mp4}\n  - {source: y/a.mp4}\n", "entry 1: key 'id': 'a' is also the id"),
        ("sources:\n  - {id: a, source: a.mp4, every: two}\n", "entry 0 (id 'a'): key 'every': expected a whole number >= 1, found str 'two'"),
        ("sources:\n  - {id: a, source: a.mp4, every: 0}\n", "key 'every': expected a whole number >= 1"),
        ("sources:\n  - {id: a, source: a.mp4, semantic: 'yes'}\n", "key 'semantic': expected true or false"),
        ("sources:\n  - {id: a, source: a.mp4, start: -1}\n", "key 'start': expected a number of seconds >= 0"),
        ("sources:\n  - {id: a, source: 12}\n", "key 'source': expected a non-empty string, found int 12"),
        ("sources:\n  - {id: a}\n", "entry 0 (id 'a'): key 'source' is missing"),
        ("sources:\n  - {id: 'a b', source: a.mp4}\n", "key 'id': 'a b' is no source id"),
        ("sources:\n  - {id: a, source: a.mp4, live: {read_timeout: 0}}\n", "key 'live.read_timeout': expected a number of seconds > 0"),
        ("sources:\n  - {id: a, source: a.mp4, live: {retries: 3}}\n", "key 'live.retries' is unknown"),
        ("sources:\n  - {id: a, source: a.mp4, live: 3}\n", "key 'live': expected a mapping"),
        ("sources:\n  - {id: a, source: a.mp4, point: ['1:x,y']}\n", "entry 0 (id 'a'): key 'point': cannot read --point '1:x,y'"),
        ("sources:\n  - {id: a, source: a.mp4, point: 5}\n", "key 'point': expected a list of strings"),
        ("sources:\n  - {id: a, source: a.mp4, prompts: missing.yaml}\n", "entry 0 (id 'a'): key 'prompts': prompt file"),
        ("sources:\n  - a.mp4\n", "entry 0: expected a mapping with 'source'"),
        ("sources: []\n", "'sources' must be a non-empty list"),
        ("- {source: a.mp4}\n", "must be a mapping with one key, 'sources'"),
        ("sources: [{source: a.mp4}]\nengine: {}\n", "found keys ['engine', 'sources']"),
        ("sources: [\n", "is not valid YAML"),
    ],
    ids=["unknown-key", "duplicate-id", "duplicate-default-id", "wrong-type", "every-zero", "semantic-not-bool",
         "negative-start", "source-not-text", "missing-source", "bad-id", "live-timeout", "live-unknown",
         "live-not-mapping", "bad-point", "point-not-list", "missing-prompts-file", "entry-not-mapping", "empty",
         "bare-list", "top-level-key", "not-yaml"],
)  # fmt: skip
def test_a_bad_streams_file_is_one_line_naming_the_entry_and_key(tmp_path, text, expected):
    with pytest.raises(ConfigError) as info:
        load_streams(_write(tmp_path, text))
    message = str(info.value)
    assert expected in message and "\n" not in message and str(tmp_path / "streams.yaml") in message


def test_a_missing_or_binary_streams_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_streams(tmp_path / "nothing.yaml")
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match="is not text"):
        load_streams(tmp_path / "bin.yaml")


def test_semantic_on_for_a_source_needs_the_semantic_model(tmp_path):
    (spec,) = load_streams(_write(tmp_path, "sources:\n  - {id: a, source: a.mp4, semantic: true}\n"))
    with pytest.raises(ConfigError, match=r"entry 0 \(id 'a'\): key 'semantic': true needs a semantic model"):
        stream_config(JobConfig(source="", out=tmp_path), spec, several=True)


def test_an_entry_option_the_config_refuses_names_the_entry(tmp_path):
    (spec,) = load_streams(_write(tmp_path, "sources:\n  - {id: a, source: a.mp4, start: 5, end: 2}\n"))
    with pytest.raises(ConfigError, match=r"entry 0 \(id 'a'\): --end \(2.0 s\) is before --start"):
        stream_config(JobConfig(source="", out=tmp_path), spec, several=True)


def test_sources_on_the_command_line_get_ids_from_their_names():
    specs = positional_streams(["a/clip.mp4", "b/clip.mp4", "rtsp://cam.local/stream1"])
    assert [s.id for s in specs] == ["clip", "clip-2", "stream1"]
    assert [s.id for s in positional_streams(["a.mp4"], source_id="cam")] == ["cam"]
    with pytest.raises(ConfigError, match="--source-id names one source"):
        positional_streams(["a.mp4", "b.mp4"], source_id="cam")


def test_the_example_streams_file_loads():
    example = Path(__file__).resolve().parents[2] / "configs" / "streams-example.yaml"
    left, right, cam = load_streams(example)
    assert [s.id for s in (left, right, cam)] == ["left", "right", "cam"] and cam.semantic is False
    assert cam.live.max_latency == 0.5 and left.prompts is not None
