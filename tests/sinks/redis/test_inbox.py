"""Prompt entries: encoding, decoding, what is rejected and why, and the reader thread."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import redis

from vidseg.errors import PromptError
from vidseg.sinks.redis.inbox import RedisPromptInbox, RejectedPrompt, check_fits
from vidseg.sinks.redis.schema import decode_prompt, encode_prompt, encode_removal
from vidseg.types import Prompt

pytestmark = pytest.mark.timeout(120)


def test_points_box_and_mask_prompts_round_trip() -> None:
    mask = np.zeros((6, 8), bool)
    mask[2:4, 3:6] = True
    for prompt, frame in [
        (Prompt(2, points=((10.5, 4.0), (3.0, 2.0)), labels=(1, 0)), "next"),
        (Prompt(3, box=(1.0, 2.0, 7.0, 5.0)), 9000),
        (Prompt(4, mask=mask), "next"),
    ]:
        got = decode_prompt(encode_prompt(prompt, frame, request_id="r1"), "1-0")
        assert got.prompt == prompt and not got.remove and got.request_id == "r1" and got.entry_id == "1-0"
        assert got.pts == (None if frame == "next" else frame)
        if prompt.mask is not None:
            assert got.prompt.mask is not None and np.array_equal(got.prompt.mask, mask)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"points": [[1, 2]]}', "missing field 'id'"),
        ('{"id": "two", "points": [[1, 2]]}', "'id' must be an integer"),
        ('{"id": 2, "points": [[1]]}', "not enough values"),
        ('{"id": 2, "points": [[1, 2]], "labels": [7]}', "labels must be 1"),
        ('{"id": 2, "box": [5, 5, 1, 1]}', "x1 < x2"),
        ('{"id": 2, "points": [[1, 2]], "frame": "later"}', "'frame' must be"),
        ('{"id": 2}', "has no points, box or mask"),
        ('{"id": 2, "remove": true, "points": [[1, 2]]}', "'remove' cannot be combined"),
    ],
)
def test_malformed_entries_are_rejected_with_a_reason(body: str, reason: str) -> None:
    with pytest.raises(PromptError, match=reason):
        decode_prompt({b"prompt": body.encode()})


def test_removal_round_trips() -> None:
    got = decode_prompt(encode_removal(5, 300, request_id="rm"))
    assert got.remove and got.prompt is None and (got.obj_id, got.pts, got.request_id) == (5, 300, "rm")


def test_prompts_that_do_not_fit_the_frame() -> None:
    assert check_fits(Prompt(1, points=((10, 10),), labels=(1,)), 64, 48) is None
    assert "outside the 64x48 frame" in str(check_fits(Prompt(1, points=((70, 10),), labels=(1,)), 64, 48))
    assert "not inside" in str(check_fits(Prompt(1, box=(0, 0, 65, 10)), 64, 48))
    assert "the frame 64x48" in str(check_fits(Prompt(1, mask=np.ones((10, 10), bool)), 64, 48))


def test_inbox_reads_only_prompts_sent_after_it_started(redis_server) -> None:
    client = redis.Redis.from_url(redis_server.url)
    key = "vidseg:cam:prompts"
    client.xadd(key, encode_prompt(Prompt(1, points=((1, 1),), labels=(1,))))  # before the run: ignored
    inbox = RedisPromptInbox(client, key, block_ms=100)
    try:
        client.xadd(key, encode_prompt(Prompt(2, points=((3, 4),), labels=(1,)), request_id="a"))
        client.xadd(key, {"prompt": json.dumps({"id": 3}), "request_id": "ignored"})
        items: list[object] = []
        deadline = time.monotonic() + 10
        while len(items) < 2 and time.monotonic() < deadline:
            items += inbox.drain()
            time.sleep(0.05)
    finally:
        inbox.close()
        client.close()
    assert len(items) == 2
    first, second = items
    assert not isinstance(first, RejectedPrompt) and first.obj_id == 2 and first.request_id == "a"
    assert isinstance(second, RejectedPrompt) and "has no points, box or mask" in second.reason
