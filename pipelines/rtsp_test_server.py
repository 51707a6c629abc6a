#!/usr/bin/python3
"""A live RTSP test feed on loopback: GStreamer's RTSP server serving a generated moving scene.

Runs under Debian's ``/usr/bin/python3`` (which has ``gi``; a virtualenv's Python does not):

    /usr/bin/python3 pipelines/rtsp_test_server.py --port 8554 --path live
    /usr/bin/python3 pipelines/rtsp_test_server.py --port 8554 --user cam --password s3cret
    echo s3cret | /usr/bin/python3 pipelines/rtsp_test_server.py --user cam --password-stdin   # not in ps

It prints one line ``READY rtsp://127.0.0.1:PORT/PATH`` (credentials never printed) once clients
can connect, and serves until SIGTERM or SIGINT. The scene is GStreamer's ``videotestsrc``
bouncing ball (``--pattern``), H.264 with a keyframe every second, live (frames are produced in
real time whether or not anyone reads them), shared by every client.

Its RTCP sender reports give the frames' capture times by the machine's real-time clock (FFmpeg
turns them into each packet's producer reference time). ``--ntp-time-source unix`` makes them
read about 70 years behind (GStreamer then writes Unix-epoch seconds where NTP-epoch seconds
belong), which is how a camera with an unsynchronised clock looks to a receiver.

The Debian packages it needs: python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base
gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly (``scripts/setup.sh`` installs them).
"""

from __future__ import annotations

import argparse
import signal
import sys


def launch_line(width: int, height: int, fps: int, pattern: str) -> str:
    """The GStreamer pipeline of the served media (its payloader must be named pay0)."""
    return (
        f"( videotestsrc is-live=true pattern={pattern} "
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
    parser.add_argument("--pattern", default="ball", help="videotestsrc pattern (ball: a moving disc)")
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
