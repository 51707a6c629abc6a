"""Prompts through Redis: the entry schema, rejections with reasons, and a reader that survives any entry."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest
import redis

from vidseg.errors import PromptError, RedisCommandError
from vidseg.prompts.commands import Origin, When
from vidseg.prompts.router import PromptRouter
from vidseg.results import Event, EventKind
from vidseg.sinks.redis.inbox import RedisPromptInbox
from vidseg.sinks.redis.schema import decode_prompt, encode_prompt, encode_removal, encode_track_class
from vidseg.types import Frame, Prompt

pytestmark = pytest.mark.timeout(120)


def test_points_box_and_mask_prompts_round_trip() -> None:
    mask = np.zeros((6, 8), bool)
    mask[2:4, 3:6] = True
    for prompt, frame in [
        (Prompt(2, points=((10.5, 4.0), (3.0, 2.0)), labels=(1, 0)), "next"),
        (Prompt(3, box=(1.0, 2.0, 7.0, 5.0)), 9000),
        (Prompt(4, mask=mask), "next"),
    ]:
        got = decode_prompt(encode_prompt(prompt, frame, request_id="r1"))
        assert got.prompt == prompt and not got.is_removal and got.request_id == "r1"
        assert got.origin is Origin.REDIS
        assert got.when == (When() if frame == "next" else When(pts=9000))
        if prompt.mask is not None:
            assert got.prompt is not None and got.prompt.mask is not None and np.array_equal(got.prompt.mask, mask)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({b"prompt": b"not json"}, "not JSON"),
        ({b"prompt": b"[1, 2]"}, "must be a JSON object"),
        ({b"prompt": b'{"points": [[1, 2]]}'}, "'id' must be an integer"),
        ({b"prompt": b'{"id": "two", "points": [[1, 2]]}'}, "'id' must be an integer"),
        ({b"prompt": b'{"id": 2, "points": [[1]]}'}, r"list of \[x, y\] pairs"),
        ({b"prompt": b'{"id": 2, "points": "xyz"}'}, r"list of \[x, y\] pairs"),
        ({b"prompt": b'{"id": 2, "points": [[1, 2]], "labels": [7]}'}, "'labels' must be a list of 0/1"),
        ({b"prompt": b'{"id": 2, "box": [5, 5, 1, 1]}'}, "x1 < x2"),
        ({b"prompt": b'{"id": 2, "box": [5, "a", 1, 1]}'}, "box must be a number"),
        ({b"prompt": b'{"id": 2, "points": [[1, 2]], "frame": "later"}'}, "'frame' must be"),
        ({b"prompt": b'{"id": 2}'}, "has no points, box or mask"),
        ({b"prompt": b'{"id": 2, "remove": true, "points": [[1, 2]]}'}, "'remove' cannot be combined"),
        ({b"prompt": b'{"id": 2, "points": [[1, 2]], "colour": 1}'}, "unknown key"),
        ({b"prompt": b"\xff\xfe{}"}, "not UTF-8"),
        ({b"prompt": b"[" * 5000 + b"]" * 5000}, "nested too deeply|must be a JSON object"),
        ({b"prompt": b'{"id": 2, "mask": {"size": [100000, 100000], "counts": "0"}}'}, "not a frame size"),
        ({b"prompt": b'{"id": 2, "mask": {"size": [4, 4], "counts": 5}}'}, "not a COCO RLE"),
        ({b"schema_version": b"999", b"prompt": b'{"id": 2, "points": [[1, 2]]}'}, "schema_version '999'"),
        ({b"other": b"x"}, "no 'prompt' field"),
    ],
)
def test_malformed_entries_are_rejected_with_a_reason(fields: dict[bytes, bytes], reason: str) -> None:
    with pytest.raises(PromptError, match=reason):
        decode_prompt(fields)


def test_removal_round_trips() -> None:
    got = decode_prompt(encode_removal(5, 300, request_id="rm"))
    assert got.is_removal and got.prompt is None and (got.obj_id, got.when.pts, got.request_id) == (5, 300, "rm")


def _drain(router: PromptRouter, count: int, frame: Frame, target: object, timeout: float = 10.0) -> list[Event]:
    events: list[Event] = []
    deadline = time.monotonic() + timeout
    while len(events) < count and time.monotonic() < deadline:
        events += router.apply_due(target, frame)  # type: ignore[arg-type]
        time.sleep(0.05)
    return events


class _Target:
    """Records what the router applies (the tracker's side is tested with the tracker)."""

    def __init__(self) -> None:
        self.added: list[Prompt] = []
        self.object_ids: tuple[int, ...] = ()
        self.pending_ids: tuple[int, ...] = ()

    def add(self, prompt: Prompt) -> None:
        self.added.append(prompt)

    def remove_object(self, obj_id: int) -> None:
        raise PromptError(f"cannot remove object {obj_id}: it is not tracked")


def test_the_reader_survives_bad_entries_and_applies_a_valid_prompt_sent_after_them(redis_server) -> None:
    """A non-UTF-8 entry and one nested 5,000 deep are answered with rejections (request id and
    object id kept where readable), and a valid prompt sent after them is applied."""
    client = redis.Redis.from_url(redis_server.url)
    key = "vidseg:cam:prompts"
    client.xadd(key, encode_prompt(Prompt(1, points=((1, 1),), labels=(1,))))  # before the run: ignored
    router = PromptRouter(255)
    failures: list[BaseException] = []
    inbox = RedisPromptInbox(client, redis_server.url, key, router, failures.append, block_ms=100)
    try:
        client.xadd(key, {"schema_version": "1", "prompt": b"\xff\xfe\x00bad"})
        client.xadd(key, {"schema_version": "1", "prompt": "[" * 5000 + "]" * 5000})
        client.xadd(key, {"prompt": json.dumps({"id": 3, "request_id": "r3"})})
        client.xadd(key, encode_prompt(Prompt(2, points=((3, 4),), labels=(1,)), request_id="ok"))
        target = _Target()
        frame = Frame(np.zeros((48, 64, 3), np.uint8), index=0)
        events = _drain(router, 4, frame, target)
    finally:
        inbox.close()
        client.close()
    assert [e.kind for e in events] == [EventKind.PROMPT_REJECTED] * 3 + [EventKind.PROMPT_APPLIED]
    assert "not UTF-8" in events[0].detail
    assert "nested too deeply" in events[1].detail or "JSON" in events[1].detail
    assert (events[2].obj_id, events[2].request_id) == (3, "r3")
    assert events[3].request_id == "ok" and [p.obj_id for p in target.added] == [2]
    assert not failures and inbox.read == 4


def test_a_failure_of_the_reader_itself_is_reported(redis_server) -> None:
    client = redis.Redis.from_url(redis_server.url)
    key = "vidseg:wrong:prompts"
    failed = threading.Event()
    failures: list[BaseException] = []
    inbox = RedisPromptInbox(client, redis_server.url, key, PromptRouter(255),
                             lambda exc: (failures.append(exc), failed.set()), block_ms=100)  # fmt: skip
    try:
        client.set(key, "a string, not a stream")  # XREAD now answers WRONGTYPE, which no retry fixes
        assert failed.wait(10)
    finally:
        inbox.close()
        client.close()
    assert isinstance(failures[0], RedisCommandError) and "WRONGTYPE" in str(failures[0])


def test_a_track_class_entry_decodes_to_a_class_command_and_bad_ones_say_why():
    command = decode_prompt(encode_track_class("person", request_id="t1"))
    assert command.track_class == "person" and command.kind == "track_class" and command.request_id == "t1"
    assert command.origin.value == "redis" and command.obj_id == 0 and command.prompt is None
    for body, reason in (('{"track_class": 3}', "class name"), ('{"track_class": ""}', "class name"),
                         ('{"track_class": "car", "id": 2}', "only track_class")):  # fmt: skip
        with pytest.raises(PromptError, match=reason):
            decode_prompt({"prompt": body})
