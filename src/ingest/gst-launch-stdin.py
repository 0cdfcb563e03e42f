#!/usr/bin/python3
"""gst-launch-1.0 -q -e, but the pipeline comes on stdin instead of the command line.

Why: a camera URL with a password on gst-launch's argv is readable by every local user through
/proc/<pid>/cmdline (and `ps`). stdin is a pipe only facegate holds.

Input: one JSON array of strings on stdin (the argv gst-launch would get after `-q -e`), then EOF.
It is parsed with Gst.parse_launchv, exactly as gst-launch parses its argv.

Behaviour kept from `gst-launch-1.0 -q -e` (facegate's failure classifier reads it):
  - parse failure: `WARNING: erroneous pipeline: <message>` on stderr, exit 1
    (a missing element reads `no element "x"`)
  - a bus ERROR: `ERROR: from element <path>: <message>`, `Additional debug info:`, `<debug>`, exit 1
  - EOS: exit 0
  - bus WARNINGs are printed as `WARNING: from element <path>: <message>` (gst-launch -q hides
    them; facegate uses "The server closed the connection." to tell a lost connection from EOS)
  - latency messages recalculate the latency, a lost clock restarts the clock (as gst-launch does)
Exit 127 with `failed to execute ... gst-launch` on stderr when GStreamer's Python bindings are
missing, so facegate reports GStreamer as missing.
Run with Debian's /usr/bin/python3 (python3-gi, gir1.2-gstreamer-1.0).
"""
import json
import sys


def fail_missing(what):
    sys.stderr.write("failed to execute gst-launch (python GStreamer bindings): %s\n" % what)
    sys.stderr.flush()
    sys.exit(127)


try:
    import gi

    gi.require_version("Gst", "1.0")
    from gi.repository import GLib, Gst
except (ImportError, ValueError) as e:  # no gi, or no Gst typelib
    fail_missing(e)


def err(line):
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def element_path(msg):
    src = msg.src
    return src.get_path_string() if src is not None and hasattr(src, "get_path_string") else "unknown"


def main():
    raw = sys.stdin.buffer.read()
    try:
        argv = json.loads(raw.decode("utf-8"))
        if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv) or not argv:
            raise ValueError("expected a non-empty JSON array of strings")
    except ValueError as e:
        err("WARNING: erroneous pipeline: bad launcher input: %s" % e)
        return 1

    Gst.init(None)
    try:
        pipeline = Gst.parse_launchv(argv)
    except GLib.Error as e:
        err("WARNING: erroneous pipeline: %s" % e.message)
        return 1
    if not isinstance(pipeline, Gst.Pipeline):
        wrapper = Gst.Pipeline.new(None)
        wrapper.add(pipeline)
        pipeline = wrapper

    bus = pipeline.get_bus()
    ret = pipeline.set_state(Gst.State.PLAYING)
    if ret == Gst.StateChangeReturn.FAILURE:
        msg = bus.timed_pop_filtered(0, Gst.MessageType.ERROR)
        if msg is not None:
            report_error(msg)
        else:
            err("ERROR: pipeline doesn't want to play.")
        pipeline.set_state(Gst.State.NULL)
        return 1

    code = 0
    while True:
        msg = bus.timed_pop(Gst.CLOCK_TIME_NONE)
        if msg is None:
            continue
        t = msg.type
        if t == Gst.MessageType.EOS:
            break
        if t == Gst.MessageType.ERROR:
            report_error(msg)
            code = 1
            break
        if t == Gst.MessageType.WARNING:
            w, debug = msg.parse_warning()
            err("WARNING: from element %s: %s" % (element_path(msg), w.message))
            if debug:
                err("Additional debug info:")
                err(debug)
        elif t == Gst.MessageType.LATENCY:
            pipeline.recalculate_latency()
        elif t == Gst.MessageType.CLOCK_LOST:
            pipeline.set_state(Gst.State.PAUSED)
            pipeline.set_state(Gst.State.PLAYING)
        elif t == Gst.MessageType.REQUEST_STATE:
            pipeline.set_state(msg.parse_request_state())
    pipeline.set_state(Gst.State.NULL)
    return code


def report_error(msg):
    e, debug = msg.parse_error()
    err("ERROR: from element %s: %s" % (element_path(msg), e.message))
    if debug:
        err("Additional debug info:")
        err(debug)


if __name__ == "__main__":
    sys.exit(main())
