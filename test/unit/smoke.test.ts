import t from 'tap';
import { redactUrl } from '../../src/log.ts';

t.test('redactUrl hides credentials', async (t) => {
  t.equal(redactUrl('rtsp://admin:s3cret@10.0.0.5:554/stream'), 'rtsp://***@10.0.0.5:554/stream');
  t.equal(redactUrl('rtsp://cam.local/stream'), 'rtsp://cam.local/stream');
});
