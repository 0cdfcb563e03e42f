/**
 * A facegate-like process for the orphan tests: opens one camera whose pipeline delivers one frame
 * and then stays silent (1 frame per 100 s), so a surviving gst-launch would not die of SIGPIPE on
 * its own. Prints `GST <pid>` once the camera is up. argv[2] = 'graceful' installs an application
 * SIGTERM handler that closes the camera and exits, like a real service would.
 */
import { openCamera } from '../../src/ingest/index.ts';

// FACEGATE_TEST_CAMERA_URL: an RTSP camera instead (a URL with credentials runs the stdin launcher).
const url = process.env.FACEGATE_TEST_CAMERA_URL;
const cam = openCamera({
  id: 'child',
  source: url ? { kind: 'rtsp', url } : { kind: 'pipeline', pipeline: 'videotestsrc is-live=true ! video/x-raw,width=64,height=48,framerate=1/100' },
  watchdog: { stallMs: 600_000 },
});
cam.health.subscribe((h) => {
  if (h.type === 'camera.up') process.stdout.write(`GST ${h.pid}\n`);
});
cam.frames.subscribe();
if (process.argv[2] === 'graceful') {
  process.on('SIGTERM', () => {
    cam.close();
    process.stdout.write('GRACEFUL\n');
    setTimeout(() => process.exit(0), 50);
  });
}
