/**
 * Issue 13: the running service switches embedder without anyone enrolling again. People enrolled
 * through the API (photo upload) with one embedder; the service restarted with another: it builds
 * the new model's templates from the enrollment crops it kept, and the new model's search finds
 * each person from another photo of them, strangers not.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { sha256Hex } from '../../src/api/auth.ts';
import { startService, type Service } from '../../src/app/service.ts';
import { parseConfig } from '../../src/config/index.ts';
import { createDetector } from '../../src/detect/index.ts';
import { openGallery } from '../../src/gallery/index.ts';
import { createLogger } from '../../src/log.ts';
import { createEmbedder, prepareEnrollmentPhoto } from '../../src/recognize/index.ts';
import { dataPath } from '../helpers/data.ts';

const ADMIN = 'switch-admin-token-0123456789';
const dir = mkdtempSync(join(tmpdir(), 'fg-switch-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const configFor = (embedder: string) =>
  parseConfig({
    server: { port: 0 },
    auth: { tokens: [{ id: 'hr-admin', role: 'admin', sha256: sha256Hex(ADMIN) }] },
    models: { embedder },
    cameras: [],
    gallery: { db: join(dir, 'gallery.sqlite') },
    events: { db: join(dir, 'events.sqlite'), snapshots: { dir: join(dir, 'snapshots') } },
  });
const logger = createLogger({ level: 'error' });
const people = [
  { name: 'Angelina', enroll: 'identities/deepface/angelina/img1.jpg', probe: 'identities/deepface/angelina/img4.jpg' },
  { name: 'Amy', enroll: 'identities/faceapi_bbt/amy/amy1.png', probe: 'identities/faceapi_bbt/amy/amy3.png' },
  { name: 'Howard', enroll: 'identities/faceapi_bbt/howard/howard1.png', probe: 'identities/faceapi_bbt/howard/howard3.png' },
];
const stranger = 'identities/faceapi_bbt/sheldon/sheldon3.png';

t.test('enroll with paddlex through the API, restart on w600k_mbf_dq: same people recognised, nobody re-enrolled', async (t) => {
  let service: Service = await startService(configFor('mobilefacenet_paddlex_128d'), { logger, port: 0 });
  try {
    for (const p of people) {
      const type = p.enroll.endsWith('.png') ? 'image/png' : 'image/jpeg';
      const res = await fetch(`${service.api.url}/v1/identities?name=${p.name}&group=staff`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': type }, body: readFileSync(dataPath(p.enroll)) });
      t.equal(res.status, 201, `${p.name} enrolled`);
    }
  } finally {
    await service.close();
  }

  service = await startService(configFor('w600k_mbf_dq'), { logger, port: 0 });
  const th = service.recognition.thresholds;
  await service.close();

  const g = openGallery(join(dir, 'gallery.sqlite'));
  t.teardown(() => g.close());
  const ids = g.listIdentities();
  t.equal(ids.length, people.length);
  for (const i of ids) {
    const models = new Set(g.listTemplates(i.id).map((x) => x.modelId));
    t.ok(models.has('w600k_mbf_dq') && models.has('mobilefacenet_paddlex_128d'), `${i.name}: templates of both models (${[...models].join(', ')})`);
  }

  const detector = await createDetector({ tier: '2.5g', padRetry: true });
  const w600k = await createEmbedder('w600k_mbf_dq');
  t.teardown(async () => {
    await detector.close();
    await w600k.close();
  });
  for (const p of people) {
    const v = await prepareEnrollmentPhoto(dataPath(p.probe), detector, w600k);
    if (!v.ok) throw new Error(`probe ${p.probe} rejected: ${v.message}`);
    const probe = v.templates.find((x) => !x.masked);
    if (!probe) throw new Error('no plain template');
    const [best] = g.search(probe.embedding, { modelId: 'w600k_mbf_dq', masked: 'plain', k: 1 });
    t.equal(best?.name, p.name, `${p.name}'s other photo finds ${p.name} with the new model (score ${best?.score.toFixed(3)})`);
    t.ok((best?.score ?? 0) > th.unmasked, `above the model's threshold ${th.unmasked}`);
  }
  const sv = await prepareEnrollmentPhoto(dataPath(stranger), detector, w600k);
  if (!sv.ok) throw new Error('stranger rejected');
  const sp = sv.templates.find((x) => !x.masked);
  const [top] = sp ? g.search(sp.embedding, { modelId: 'w600k_mbf_dq', masked: 'plain', k: 1 }) : [];
  t.ok((top?.score ?? 0) < th.unmasked, `a stranger stays under the threshold (best ${top?.score.toFixed(3)})`);
});
