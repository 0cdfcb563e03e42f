#!/usr/bin/python3
"""A real RTSP server on loopback for facegate's tests and the demo (gst-rtsp-server via PyGObject).

Run with Debian's /usr/bin/python3 (it has `gi`). Prints `READY <port>` on stdout once it listens.

Mounts:
  /test   live H.264 from videotestsrc (--width/--height/--fps), x264enc tune=zerolatency
  /clip   a real clip (--clip PATH), decoded and re-encoded with x264enc tune=zerolatency,
          scaled to --width/--height; the stream ends (EOS) when the clip ends
  /clip   with --passthrough: the clip's own H.264 (an MP4) without re-encoding (cheap per client)
  /audio  audio only (no video track), to test "no video" handling

--port 0 picks a free port; a fixed --port can be reused right after the previous server on it
was killed (gst-rtsp-server binds with SO_REUSEADDR). --auth USER:PASS requires HTTP basic auth
on every mount. SIGTERM/SIGINT stop it cleanly.
"""
import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--port", default="0")
    p.add_argument("--width", type=int, default=320)
    p.add_argument("--height", type=int, default=240)
    p.add_argument("--fps", type=int, default=15)
    p.add_argument("--clip", default=None)
    p.add_argument("--auth", default=None, help="USER:PASS")
    p.add_argument(
        "--passthrough",
        action="store_true",
        help="serve the clip's own H.264 (MP4) without re-encoding: many clients at little server CPU",
    )
    return p.parse_args()


def encoder(fps):
    # key-int-max=fps: a keyframe every second, so a (re)connecting client decodes within ~1 s.
    return (
        f"x264enc tune=zerolatency speed-preset=ultrafast key-int-max={fps} threads=1 "
        f"! rtph264pay name=pay0 pt=96 config-interval=1"
    )


def factory(launch, shared=True):
    f = GstRtspServer.RTSPMediaFactory()
    f.set_launch(launch)
    f.set_shared(shared)
    return f


def main():
    args = parse_args()
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    mounts = server.get_mount_points()

    w, h, fps = args.width, args.height, args.fps
    test_launch = (
        f"( videotestsrc is-live=true pattern=ball ! video/x-raw,width={w},height={h},framerate={fps}/1 "
        f"! videoconvert ! {encoder(fps)} )"
    )
    factories = {"/test": factory(test_launch)}
    if args.clip and args.passthrough:
        clip_launch = (
            f'( filesrc location="{args.clip}" ! qtdemux ! h264parse '
            f"! rtph264pay name=pay0 pt=96 config-interval=1 )"
        )
        factories["/clip"] = factory(clip_launch, shared=False)
    elif args.clip:
        clip_launch = (
            f'( filesrc location="{args.clip}" ! decodebin ! videoconvert ! videoscale '
            f"! videorate ! video/x-raw,width={w},height={h},framerate={fps}/1 ! {encoder(fps)} )"
        )
        # Not shared: every client gets the clip from its start.
        factories["/clip"] = factory(clip_launch, shared=False)
    factories["/audio"] = factory(
        "( audiotestsrc is-live=true ! audioconvert ! audioresample ! alawenc ! rtppcmapay name=pay0 pt=8 )"
    )

    if args.auth:
        user, _, password = args.auth.partition(":")
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", "user")
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
        server.set_auth(auth)
        role = Gst.Structure.from_string(
            "user, media.factory.access=(boolean)true, media.factory.construct=(boolean)true"
        )[0]
        for f in factories.values():
            f.add_role_from_structure(role)

    for path, f in factories.items():
        mounts.add_factory(path, f)

    if server.attach(None) == 0:
        print("ERROR could not bind 127.0.0.1:%s" % args.port, file=sys.stderr, flush=True)
        sys.exit(2)
    print("READY %d" % server.get_bound_port(), flush=True)

    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, loop.quit)
    loop.run()


if __name__ == "__main__":
    main()
