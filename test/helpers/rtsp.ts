/** The loopback RTSP server lives in src/demo (the demo uses it too); tests import it from here. */
export { RtspTestServer, REPO_ROOT, CLIP_PATH, type RtspServerOptions } from '../../src/dev/rtsp-server.ts';
