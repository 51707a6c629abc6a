#!/usr/bin/python3
"""A live RTSP test feed on loopback: GStreamer's RTSP server serving a generated moving scene.

Runs under Debian's ``/usr/bin/python3`` (which has ``gi``; a virtualenv's Python does not):

    /usr/bin/python3 pipelines/rtsp_test_server.py --port 8554 --path live
    /usr/bin/python3 pipelines/rtsp_test_server.py --port 8554 --user cam --password s3cret
    echo s3cret | /usr/bin/python3 pipelines/rtsp_test_server.py --user cam --password-stdin   # not in ps

It prints one line ``READY rtsp://127.0.0.1:PORT/PATH`` (credentials never printed) once clients
can connect, and serves until SIGTERM or SIGINT. The scene (``--pattern``) is GStreamer's
``videotestsrc`` bouncing ball by default (any ``videotestsrc`` pattern name works), or
``discs``: three bright discs like that ball (red, green, blue: see ``COLOURS``), drawn here
(pure Python, no numpy), moving deterministically and never overlapping; one leaves the view by the right edge for ``--away``
seconds (default 1) every cycle and comes back the way it went. Either way: H.264 with a
keyframe every second, live (frames are produced in real time whether or not anyone reads
them, timestamped by the pipeline's clock), shared by every client.

Its RTCP sender reports give the frames' capture times by the machine's real-time clock (FFmpeg
turns them into each packet's producer reference time). ``--ntp-time-source unix`` makes them
read about 70 years behind (GStreamer then writes Unix-epoch seconds where NTP-epoch seconds
belong), which is how a camera with an unsynchronised clock looks to a receiver.

The Debian packages it needs: python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base
gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly (``scripts/setup.sh`` installs them).
"""

from __future__ import annotations

import argparse
import math
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

GENERATED = "discs"  # the pattern drawn here (an appsrc); every other name is a videotestsrc pattern
RADIUS = 20  # the discs' radius in pixels, as videotestsrc's ball's
# The discs' colours (RGB; left, top right, leaving). Bright like videotestsrc's white ball, which
# the shipped U-Net labels "disc"; told apart by hue, as things of one class differ, because the
# shipped tracker follows three identical white discs as one (its masks spread over all three)
# and the U-Net labels white discs on black only in part (then their objects are withdrawn).
COLOURS = ((255, 80, 80), (80, 230, 80), (90, 140, 255))
Row = tuple[int, int, bytes]  # (row offset from the centre, first column offset, the span's bytes)


def _yuv(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    """Studio-range BT.601 Y, U, V of an RGB colour (what an H.264 decoder turns back to RGB)."""
    r, g, b = (c / 255 for c in rgb)
    return (round(16 + 65.481 * r + 128.553 * g + 24.966 * b), round(128 - 37.797 * r - 74.203 * g + 112.0 * b),
            round(128 + 112.0 * r - 93.786 * g - 18.214 * b))  # fmt: skip


def _disc_rows(value: int, background: int, step: int, phase: tuple[int, int]) -> list[Row]:
    """A disc's rows on a plane sampled every ``step`` pixels (1: luma, 2: chroma), its centre at
    an offset ``phase`` (0 or 1 each way) inside its sample: each sample blends ``value`` into
    ``background`` by how much of it the circle covers (a ramp one sample wide at the rim)."""
    reach = RADIUS // step + 2
    rows = []
    for j in range(-reach, reach + 1):
        y = step * j + (step - 1) / 2 - phase[1]
        cover = [min(1.0, max(0.0, (RADIUS - math.hypot(step * i + (step - 1) / 2 - phase[0], y)) / step + 0.5))
                 for i in range(-reach, reach + 1)]  # fmt: skip
        lit = [k for k, c in enumerate(cover) if c > 0]
        if lit:
            span = bytes(round(background + c * (value - background)) for c in cover[lit[0] : lit[-1] + 1])
            rows.append((j, lit[0] - reach, span))
    return rows


class DiscScene:
    """The ``discs`` scene: frame ``n`` as I420 bytes, a function of ``n`` alone.

    Disc 1 bounces in the left part, disc 2 in the top right, disc 3 crosses the bottom right
    and leaves by the right edge: each cycle it is wholly out of view for ``away`` seconds, then
    comes back the way it went. Their areas never meet, so each disc is one region on every frame.
    Drawing is a few dozen slice copies per disc and plane (each row's anti-aliased span is
    precomputed): under a millisecond a frame (2 % of a core at 25 fps).
    """

    SPEED = 100.0  # pixels per second of the leaving disc

    def __init__(self, width: int, height: int, fps: int, away: float = 1.0) -> None:
        if width < 8 * RADIUS or height < 6 * RADIUS or width % 8 or height % 2:
            raise ValueError(f"the discs scene needs at least {8 * RADIUS}x{6 * RADIUS} pixels, a width that is a "
                             f"multiple of 8 and an even height (I420 rows without padding); got {width}x{height}")
        self.width, self.height, self.fps, self.away = width, height, fps, away
        luma, chroma = width * height, (width // 2) * (height // 2)
        self.blank = bytes([16]) * luma + bytes([128]) * (2 * chroma)  # black
        # Per disc, per parity of its centre (x % 2, y % 2): the rows of its Y, U and V planes.
        self.planes: list[dict[tuple[int, int], tuple[list[Row], list[Row], list[Row]]]] = []
        for colour in COLOURS:
            y, u, v = _yuv(colour)
            self.planes.append({(px, py): (_disc_rows(y, 16, 1, (0, 0)), _disc_rows(u, 128, 2, (px, py)),
                                           _disc_rows(v, 128, 2, (px, py))) for px in (0, 1) for py in (0, 1)})  # fmt: skip
        w, h, r = width, height, RADIUS
        self.left = (r + 4, r + 4, int(0.45 * w) - r, h - r - 4)  # x1, y1, x2, y2 its centre stays within
        self.top_right = (int(0.55 * w) + r, r + 4, w - r - 4, int(0.45 * h))
        self.lane = (int(0.55 * w) + r, int(0.78 * h))  # the leaving disc's first x and its row
        # It turns back once it has been out of view (centre past w + r) for `away` seconds.
        self.far = w + r + 1 + self.SPEED * away / 2

    @staticmethod
    def _bounce(t: float, low: float, high: float, speed: float) -> int:
        """A triangle wave between low and high at ``speed`` pixels per second."""
        span = max(1.0, high - low)
        phase = (t * speed) % (2 * span)
        return round(low + (phase if phase <= span else 2 * span - phase))

    def centres(self, n: int) -> list[tuple[int, int]]:
        """The three discs' centres on frame ``n`` (the third may be out of view)."""
        t = n / self.fps
        x1, y1, x2, y2 = self.left
        a = (self._bounce(t, x1, x2, 60.0), self._bounce(t + 1.3, y1, y2, 45.0))
        x1, y1, x2, y2 = self.top_right
        b = (self._bounce(t + 0.7, x1, x2, 50.0), self._bounce(t, y1, y2, 35.0))
        c = (self._bounce(t, self.lane[0], self.far, self.SPEED), self.lane[1])
        return [a, b, c]

    def frame(self, n: int) -> bytes:
        data = bytearray(self.blank)
        w, h = self.width, self.height
        cw, ch = w // 2, h // 2
        planes = ((0, w, h), (w * h, cw, ch), (w * h + cw * ch, cw, ch))  # (start, width, height) of Y, U, V
        for (cx, cy), rows in zip(self.centres(n), self.planes, strict=True):
            for k, (start, pw, ph) in enumerate(planes):
                ox, oy = (cx, cy) if k == 0 else (cx // 2, cy // 2)
                for dy, dx, span in rows[(cx % 2, cy % 2)][k]:
                    y, x = oy + dy, ox + dx
                    a, b = max(0, x), min(pw, x + len(span))
                    if 0 <= y < ph and a < b:
                        data[start + y * pw + a : start + y * pw + b] = span[a - x : b - x]
        return bytes(data)


def feed_generated(appsrc: Any, scene: DiscScene, push: Callable[[Any, bytes, float], bool]) -> threading.Thread:
    """Push the scene's frames into ``appsrc`` in real time from a thread of their own (ended when
    a push fails: the media is stopping). Frame ``n`` is due ``n / fps`` s after the first, and
    ``push`` gets that offset (its timestamp); a frame that is late is skipped, not queued, so the
    scene keeps the wall clock's pace under load."""

    def run() -> None:
        period = 1.0 / scene.fps
        start = time.monotonic()
        n = 0
        while True:
            due = start + n * period
            now = time.monotonic()
            if now < due:
                time.sleep(due - now)
            elif now - due > period:  # behind: jump to the frame due now
                n = int((now - start) / period)
            if not push(appsrc, scene.frame(n), n * period):
                return
            n += 1

    thread = threading.Thread(target=run, name="discs", daemon=True)
    thread.start()
    return thread


def launch_line(width: int, height: int, fps: int, pattern: str) -> str:
    """The GStreamer pipeline of the served media (its payloader must be named pay0). The
    generated pattern's frames come from an appsrc named ``scene``: live, each buffer stamped with
    the pipeline clock's running time when it goes out (``do-timestamp``), at most two queued
    (the oldest dropped)."""
    source = (
        "appsrc name=scene is-live=true format=time do-timestamp=true max-buffers=2 leaky-type=downstream "
        f'caps="video/x-raw,format=I420,width={width},height={height},framerate={fps}/1"'
        if pattern == GENERATED
        else f"videotestsrc is-live=true pattern={pattern}"
    )
    return (
        f"( {source} "
        f"! video/x-raw,width={width},height={height},framerate={fps}/1 "
        f"! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={fps} "
        "! rtph264pay name=pay0 pt=96 config-interval=1 )"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8554)
    parser.add_argument("--address", default="127.0.0.1",
                        help="address to listen on (default loopback; 0.0.0.0 inside a container network)")
    parser.add_argument("--path", default="live", help="the stream's path: rtsp://127.0.0.1:PORT/PATH")
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--pattern", default="ball",
                        help=f"videotestsrc pattern (ball: a moving disc), or {GENERATED}: three discs, one leaving "
                        "the view and coming back")  # fmt: skip
    parser.add_argument("--away", type=float, default=1.0,
                        help=f"{GENERATED}: seconds the leaving disc is wholly out of view each cycle (default 1)")
    parser.add_argument("--user", default=None, help="require basic authentication with this user ...")
    parser.add_argument("--password", default=None, help="... and this password (shown by ps: prefer --password-stdin)")
    parser.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    parser.add_argument("--ntp-time-source", default="ntp", choices=["ntp", "unix", "running-time", "clock-time"],
                        help="the clock of the RTCP sender reports (rtpbin's ntp-time-source; default ntp: the real "
                        "time; unix: 70 years behind, an unsynchronised sender)")
    args = parser.parse_args()
    if args.password_stdin:
        args.password = sys.stdin.readline().rstrip("\r\n")
    try:
        import gi

        gi.require_version("Gst", "1.0")
        gi.require_version("GstRtspServer", "1.0")
        from gi.repository import GLib, Gst, GstRtspServer
    except (ImportError, ValueError) as exc:
        print(f"rtsp_test_server: GStreamer's RTSP server is not available to {sys.executable} ({exc}); install "
              "python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-{base,good,ugly} and run it with "
              "/usr/bin/python3", file=sys.stderr)  # fmt: skip
        return 2
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address(args.address)
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch_line(args.width, args.height, args.fps, args.pattern))
    factory.set_shared(True)
    if args.pattern == GENERATED:
        try:
            scene = DiscScene(args.width, args.height, args.fps, args.away)
        except ValueError as exc:
            print(f"rtsp_test_server: {exc}", file=sys.stderr)
            return 2
        duration = Gst.SECOND // args.fps

        def on_generated(_factory: GstRtspServer.RTSPMediaFactory, media: GstRtspServer.RTSPMedia) -> None:
            # Each media (a new one after the last client left) gets its own scene thread, started
            # when its appsrc first wants data (once playing) and ended when a push fails.
            started: list[threading.Thread] = []
            first: list[int] = []  # the running time the first frame went out at

            def push(appsrc: Any, data: bytes, offset: float) -> bool:
                # Stamped with the running time it was due at (the first frame's, read from the
                # pipeline's clock, plus its offset): steady 1/fps steps, as videotestsrc's.
                buffer = Gst.Buffer.new_wrapped(data)
                clock = appsrc.get_clock()
                if clock is not None:
                    if not first:
                        first.append(clock.get_time() - appsrc.get_base_time())
                    buffer.pts = first[0] + round(offset * Gst.SECOND)
                buffer.duration = duration
                return bool(appsrc.emit("push-buffer", buffer) == Gst.FlowReturn.OK)

            def on_need_data(src: Any, _length: int) -> None:
                if not started:
                    started.append(feed_generated(src, scene, push))

            media.get_element().get_by_name("scene").connect("need-data", on_need_data)

        factory.connect("media-configure", on_generated)
    if args.ntp_time_source != "ntp":

        def on_prepared(media: GstRtspServer.RTSPMedia) -> None:
            # The media's rtpbin sits in the pipeline above the launch line's bin.
            found = media.get_element().get_parent().iterate_recurse()
            while True:
                result, element = found.next()
                if result != Gst.IteratorResult.OK:
                    break
                if element.get_factory() is not None and element.get_factory().get_name() == "rtpbin":
                    element.set_property("ntp-time-source", args.ntp_time_source)

        factory.connect("media-configure", lambda _factory, media: media.connect("prepared", on_prepared))
    if args.user is not None and args.password is not None:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", "viewer")
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(args.user, args.password), token)
        server.set_auth(auth)
        permissions = GstRtspServer.RTSPPermissions()
        permissions.add_permission_for_role("viewer", "media.factory.access", True)
        permissions.add_permission_for_role("viewer", "media.factory.construct", True)
        factory.set_permissions(permissions)
    server.get_mount_points().add_factory(f"/{args.path}", factory)
    if server.attach(None) == 0:
        print(f"rtsp_test_server: cannot listen on {args.address}:{args.port} (in use?)", file=sys.stderr)
        return 2
    loop = GLib.MainLoop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
    print(f"READY rtsp://{args.address}:{args.port}/{args.path}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
