"""What publishing a frame to Redis costs: 1280x720 frames with 5 objects.

Measures, per frame: building the record (COCO RLE, box and area of each mask), encoding the
entry (JSON), and ``publish`` (queueing it for the publishing thread), which is all the write
stage pays; then the publishing thread's throughput to a real redis-server on loopback (started
here), and the payload size. Goal: <= 1.6 ms per frame on the pipeline's side (5% of a frame at
30 fps).

    python bench/redis_publish.py --frames 600
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator

import cv2
import numpy as np
import redis
import torch
from common import print_table

from vidseg.models.tracking.postprocess import support_boxes, to_frame_size
from vidseg.results import FrameRecord
from vidseg.sinks.redis.publisher import RedisPublisher
from vidseg.sinks.redis.schema import RedisConfig, encode_entry
from vidseg.types import Frame, ModelInfo, TrackingResult

WIDTH, HEIGHT, OBJECTS = 1280, 720, 5


def _results(frames: int) -> Iterator[tuple[Frame, TrackingResult]]:
    """Moving ellipses of different sizes, made as the tracker makes its results: SAM 2's 256x256
    low-resolution logits, resized to the frame by the tracker's own functions, which also give
    the regions that hold each mask."""
    info = ModelInfo("bench", 1024, None, None, False, "cpu", "float32")
    image = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    low = 256
    for t in range(frames):
        low_res = np.full((OBJECTS, 1, low, low), -8.0, np.float32)
        for k in range(OBJECTS):
            center = (int(150 + 220 * k + 40 * np.sin(t / 9 + k)), int(200 + 60 * k + 30 * np.cos(t / 7)))
            axes = (40 + 25 * k, 30 + 15 * k)
            center_low = (center[0] * low // WIDTH, center[1] * low // HEIGHT)
            axes_low = (axes[0] * low // WIDTH, axes[1] * low // HEIGHT)
            cv2.ellipse(low_res[k, 0], center_low, axes_low, (t * 3 + 20 * k) % 180, 0, 360, 8.0, thickness=-1)
        low_t = torch.from_numpy(low_res)
        logits = to_frame_size(low_t, HEIGHT, WIDTH)[:, 0].numpy()
        result = TrackingResult(
            frame_index=t,
            object_ids=np.arange(1, OBJECTS + 1),
            masks=logits > 0,
            logits=logits,
            scores=np.full(OBJECTS, 0.95, np.float32),
            model=info,
            regions=support_boxes(low_t, HEIGHT, WIDTH),
        )
        yield Frame(image, index=t, pts=t * 3000, time=t / 30), result


def _redis_server() -> tuple[subprocess.Popen[bytes], str]:
    if shutil.which("redis-server") is None:
        raise SystemExit("redis-server is not installed: run scripts/setup.sh")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    folder = tempfile.mkdtemp()
    proc = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            folder,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.05)
    raise SystemExit("redis-server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=600)
    args = parser.parse_args()
    build, encode, publish = [], [], []
    sizes = []
    proc, url = _redis_server()
    try:
        publisher = RedisPublisher(RedisConfig(url, source_id="bench", backlog=args.frames + 10))
        records = []
        for frame, result in _results(args.frames):  # made one at a time, outside the timing
            t0 = time.perf_counter()
            record = FrameRecord.build(frame, result)
            t1 = time.perf_counter()
            entry = encode_entry(record)
            t2 = time.perf_counter()
            build.append(t1 - t0)
            encode.append(t2 - t1)
            sizes.append(sum(len(str(v)) for v in entry.values()))
            records.append(record)
        start = time.perf_counter()
        for record in records:
            t0 = time.perf_counter()
            publisher.publish(record)
            publish.append(time.perf_counter() - t0)
        publisher.close()
        drained = time.perf_counter() - start
        client = redis.Redis.from_url(url)
        stored = client.xlen("vidseg:bench:frames")
        client.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    def ms(values: list[float]) -> float:
        return 1000 * statistics.median(values)

    per_frame = [b + e + p for b, e, p in zip(build, encode, publish, strict=True)]
    print(f"{args.frames} frames of {WIDTH}x{HEIGHT}, {OBJECTS} objects each; redis-server on loopback")
    print_table(
        ["step (pipeline side, per frame)", "median ms", "p95 ms"],
        [
            ["record: RLE, box, area of 5 masks", ms(build), 1000 * float(np.percentile(build, 95))],
            ["entry: JSON", ms(encode), 1000 * float(np.percentile(encode, 95))],
            ["publish: queue for the thread", ms(publish), 1000 * float(np.percentile(publish, 95))],
            ["total", ms(per_frame), 1000 * float(np.percentile(per_frame, 95))],
        ],
    )
    print(f"payload: {statistics.median(sizes) / 1024:.1f} KiB per entry (median); "
          f"publishing thread: {stored / drained:.0f} entries/s to Redis ({stored} stored)")  # fmt: skip
    total = ms(per_frame)
    print(f"goal: <= 1.6 ms per frame: {'met' if total <= 1.6 else 'NOT met'} ({total:.3f} ms)")


if __name__ == "__main__":
    main()
