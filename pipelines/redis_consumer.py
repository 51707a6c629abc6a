"""Recipe: read a run's frames from Redis with a consumer group, and print or save them.

    python pipelines/redis_consumer.py redis://127.0.0.1:6379/0 clip --group viewers --save out/frames.jsonl

Reads ``{prefix}:{source_id}:frames`` with XREADGROUP (created with its group if missing),
decodes each entry into a :class:`~vidseg.results.FrameRecord` (masks included), drops repeated
entries (:class:`~vidseg.sinks.redis.publisher.FrameDeduplicator`), prints one line per frame or
appends it to a JSON-lines file, and acknowledges it (XACK). Entries this consumer read but never
acknowledged (it died mid-way) are read again first. Stops after ``--count`` frames, or when
nothing arrives for ``--idle`` seconds.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from vidseg.errors import VidsegError
from vidseg.results import FrameRecord
from vidseg.sinks.redis.client import connect
from vidseg.sinks.redis.schema import FrameDeduplicator, RedisConfig, decode_entry

log = logging.getLogger("redis_consumer")


@dataclass(frozen=True)
class ConsumerConfig:
    """Which stream to read and how."""

    url: str
    source_id: str
    prefix: str = "vidseg"
    group: str = "vidseg-consumers"
    consumer: str = "consumer-1"
    count: int | None = None
    idle: float = 5.0
    block_ms: int = 500


def consume(config: ConsumerConfig, handle: Callable[[FrameRecord], None]) -> int:
    """Read frames with the consumer group and hand each new one to ``handle``; returns how many."""
    key = RedisConfig(config.url, source_id=config.source_id, prefix=config.prefix).frames_key
    client = connect(config.url, timeout=10)
    try:
        try:
            client.xgroup_create(key, config.group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):  # the group exists already: join it
                raise
        dedup = FrameDeduplicator()
        done = 0
        pending = True  # first re-read what this consumer was given but never acknowledged
        last_seen = time.monotonic()
        while config.count is None or done < config.count:
            reply: Any = client.xreadgroup(
                config.group, config.consumer, {key: "0" if pending else ">"}, count=50, block=config.block_ms
            )
            entries = reply[0][1] if reply else []
            if pending and not entries:
                pending = False
                continue
            if not entries:
                if time.monotonic() - last_seen > config.idle:
                    break
                continue
            last_seen = time.monotonic()
            for entry_id, fields in entries:
                if dedup.is_new(fields):
                    handle(decode_entry(fields))
                    done += 1
                client.xack(key, config.group, entry_id)
                if config.count is not None and done >= config.count:
                    break
    finally:
        client.close()  # also when handle() or Redis raises
    return done


def describe(record: FrameRecord) -> str:
    """One line per frame: index, time and each object's id, visibility, area and box."""
    objects = ", ".join(
        f"{o.obj_id}:{'visible' if o.visible else 'hidden'} area={o.area} box={o.bbox}" for o in record.objects
    )
    time_text = f"{record.time:.3f}s" if record.time is not None else "?"
    return f"frame {record.index} t={time_text} {objects or 'no objects'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url")
    parser.add_argument("source_id")
    parser.add_argument("--prefix", default="vidseg")
    parser.add_argument("--group", default="vidseg-consumers")
    parser.add_argument("--consumer", default="consumer-1")
    parser.add_argument("--count", type=int, default=None, help="stop after this many frames")
    parser.add_argument("--idle", type=float, default=5.0, help="stop after this many seconds without entries")
    parser.add_argument("--save", type=Path, default=None, help="append each frame as JSON to this file")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    config = ConsumerConfig(args.url, args.source_id, args.prefix, args.group, args.consumer, args.count, args.idle)
    out = args.save.open("a") if args.save is not None else None

    def handle(record: FrameRecord) -> None:
        if out is not None:
            out.write(json.dumps(record.to_json()) + "\n")
        else:
            print(describe(record))

    try:
        done = consume(config, handle)
    except VidsegError as exc:
        raise SystemExit(f"redis_consumer: error: {exc}") from None
    finally:
        if out is not None:
            out.close()
    log.info("%d frames read", done)


if __name__ == "__main__":
    main()
