"""The consumer-group recipe and the `vidseg prompt` command against a real redis-server."""

from __future__ import annotations

import numpy as np
import pytest
import redis

from pipelines.redis_consumer import ConsumerConfig, consume, describe
from tests.conftest import RedisServer
from vidseg.cli import main
from vidseg.masks import encode_rle
from vidseg.results import FrameRecord, ObjectRecord
from vidseg.sinks.redis.publisher import RedisPublisher
from vidseg.sinks.redis.schema import RedisConfig, decode_prompt, encode_entry

pytestmark = pytest.mark.timeout(120)


def _record(index: int) -> FrameRecord:
    mask = np.zeros((6, 8), bool)
    mask[1:4, 2 : 3 + index % 5] = True
    obj = ObjectRecord(1, 0.8, True, (2, 1, 3 + index % 5, 4), int(mask.sum()), encode_rle(mask))
    return FrameRecord(index=index, pts=index, time_base=None, time=index / 25, objects=(obj,))


def test_consumer_group_reads_every_frame_once_and_acknowledges(redis_server: RedisServer) -> None:
    publisher = RedisPublisher(RedisConfig(redis_server.url, source_id="cam"))
    for k in range(30):
        publisher.publish(_record(k))
    publisher.close()
    client = redis.Redis.from_url(redis_server.url)
    client.xadd("vidseg:cam:frames", encode_entry(_record(29)))  # a repeat, as a retry can leave
    # A consumer that read 5 entries and died before acknowledging them.
    client.xgroup_create("vidseg:cam:frames", "g", id="0")
    client.xreadgroup("g", "c1", {"vidseg:cam:frames": ">"}, count=5)

    got: list[FrameRecord] = []
    config = ConsumerConfig(redis_server.url, "cam", group="g", consumer="c1", idle=0.5, block_ms=100)
    assert consume(config, got.append) == 30
    assert [r.index for r in got] == list(range(30)) and got[12] == _record(12)
    assert np.array_equal(got[12].objects[0].mask(), _record(12).objects[0].mask())
    assert client.xpending("vidseg:cam:frames", "g")["pending"] == 0
    assert consume(config, got.append) == 0  # all acknowledged: nothing new for the group
    assert describe(got[3]).startswith("frame 3 t=0.120s 1:visible area=")
    client.close()


def test_prompt_command_adds_an_entry_the_run_can_read(redis_server: RedisServer, capsys) -> None:
    code = main(["prompt", "cam", "--redis", redis_server.url, "--point", "2:10,20", "--point", "2:30,5,0",
                 "--request-id", "req"])  # fmt: skip
    assert code == 0 and "vidseg:cam:prompts" in capsys.readouterr().out
    client = redis.Redis.from_url(redis_server.url)
    ((_, fields),) = client.xrange("vidseg:cam:prompts")
    remote = decode_prompt(fields)
    assert remote.prompt is not None and remote.obj_id == 2 and remote.prompt.points == ((10.0, 20.0), (30.0, 5.0))
    assert remote.prompt.labels == (1, 0) and remote.request_id == "req" and remote.when.pts is None
    client.close()


def test_prompt_command_errors_are_one_line_without_credentials(tmp_path, capsys) -> None:
    assert main(["prompt", "cam", "--redis", "redis://u:pw123@127.0.0.1:1/0", "--point", "1,1"]) == 2
    err = capsys.readouterr().err
    assert "cannot reach Redis at redis://***@127.0.0.1:1/0" in err and "pw123" not in err
    assert main(["prompt", "cam", "--redis", "redis://127.0.0.1:1/0", "--point", "1,1@3"]) == 2
    assert "@WHEN does not apply" in capsys.readouterr().err


def test_prompt_to_a_source_no_run_publishes_warns(redis_server, caplog) -> None:
    import logging

    with caplog.at_level(logging.WARNING, logger="vidseg"):
        assert main(["prompt", "nobody", "--redis", redis_server.url, "--point", "1,1"]) == 0
    assert any("no run has published a status" in r.message for r in caplog.records)
    client = redis.Redis.from_url(redis_server.url)
    client.xadd("vidseg:done:status", {"state": "stopped"})
    client.close()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="vidseg"):
        assert main(["prompt", "done", "--redis", redis_server.url, "--point", "1,1"]) == 0
    assert any("its last run has stopped" in r.message for r in caplog.records)
