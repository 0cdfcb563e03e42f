import t from 'tap';
import { resolveProbeUrl, withCredentials } from '../../src/app/camera-setup.ts';
import { parseConfig } from '../../src/config/index.ts';

t.test('withCredentials: the form\'s username and password go into the URL, encoded, replacing any there', async (t) => {
  t.equal(withCredentials('rtsp://192.0.2.10:554/s1', undefined, undefined), 'rtsp://192.0.2.10:554/s1', 'none given: as sent');
  t.equal(withCredentials('rtsp://192.0.2.10/s1', 'admin', 'p@ss:w/rd'), 'rtsp://admin:p%40ss%3Aw%2Frd@192.0.2.10/s1');
  t.equal(withCredentials('rtsp://old:secret@192.0.2.10/s1', 'new', 'pw'), 'rtsp://new:pw@192.0.2.10/s1', 'replaces the userinfo');
  t.equal(withCredentials('rtsp://***@192.0.2.10/s1', 'new', 'pw'), 'rtsp://new:pw@192.0.2.10/s1', 'replaces a redacted one');
  t.equal(withCredentials('RTSPS://192.0.2.10/s1', 'viewer', undefined), 'RTSPS://viewer@192.0.2.10/s1', 'a user without a password');
  t.equal(withCredentials('rtsp://192.0.2.10/a@b', 'u', 'p'), 'rtsp://u:p@192.0.2.10/a@b', 'an @ in the path is not userinfo');
  t.equal(withCredentials('not a url', 'u', 'p'), 'not a url');
});

t.test('resolveProbeUrl: a redacted URL sent back for a configured camera is its own URL', async (t) => {
  const { cameras } = parseConfig({ cameras: [{ id: 'door', url: 'rtsp://admin:S3cret@192.0.2.10/s1' }, { id: 'lab', source: { kind: 'test' } }] });
  t.equal(resolveProbeUrl('rtsp://***@192.0.2.10/s1', 'door', cameras), 'rtsp://admin:S3cret@192.0.2.10/s1');
  t.equal(resolveProbeUrl('rtsp://***@192.0.2.99/s1', 'door', cameras), 'rtsp://***@192.0.2.99/s1', 'another host: not that camera\'s URL');
  t.equal(resolveProbeUrl('rtsp://***@192.0.2.10/s1', undefined, cameras), 'rtsp://***@192.0.2.10/s1', 'no camera named');
  t.equal(resolveProbeUrl('rtsp://***@192.0.2.10/s1', 'lab', cameras), 'rtsp://***@192.0.2.10/s1', 'not an rtsp camera');
  t.equal(resolveProbeUrl('rtsp://u:p@192.0.2.10/s1', 'door', cameras), 'rtsp://u:p@192.0.2.10/s1', 'a typed URL is used as typed');
});
