/** The loopback RTSP server lives in src/dev (the demo uses it too); tests import it from here. */
import type { Test } from 'tap';
import { RtspTestServer, type RtspServerOptions } from '../../src/dev/rtsp-server.ts';

export { RtspTestServer, REPO_ROOT, CLIP_PATH, type RtspServerOptions } from '../../src/dev/rtsp-server.ts';

/** A loopback RTSP camera for `t`, stopped when `t` ends (kill/restart/pause stay the test's). */
export async function withRtspCamera(t: Test, opts: RtspServerOptions = {}): Promise<RtspTestServer> {
  const server = await RtspTestServer.start(opts);
  t.teardown(() => server.stop());
  return server;
}
