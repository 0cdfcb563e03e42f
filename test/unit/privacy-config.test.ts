import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { DEFAULT_CONSENT_NOTICE, diffConfig, loadConfig, parseConfig, parseConfigText } from '../../src/config/index.ts';
import { restartNeeded } from '../../src/app/update.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

t.test('privacy defaults are explicit: encryption off, consent not required (configs written before it exist)', async (t) => {
  const c = parseConfig({});
  t.same(c.privacy, { encryption: { enabled: false, keyFile: 'data/facegate.key', keyEnv: 'FACEGATE_KEK' }, retention: { unknownHours: 24, intervalMinutes: 60 }, keepEnrollmentCrops: true, requireConsent: false, consentNotice: DEFAULT_CONSENT_NOTICE });
});

t.test('keyFile resolves against the config file; a bad variable name or an unknown key is refused', async (t) => {
  const c = parseConfigText('privacy:\n  encryption:\n    enabled: true\n    keyFile: keys/k\n', 'x.yaml', { baseDir: '/etc/facegate' });
  t.equal(c.privacy.encryption.keyFile, '/etc/facegate/keys/k');
  t.throws(() => parseConfig({ privacy: { encryption: { keyEnv: 'not a name' } } }), { code: 'CONFIG_INVALID' });
  t.throws(() => parseConfig({ privacy: { encryption: { enable: true } } }), { code: 'CONFIG_INVALID' }, 'a misspelt key is an error');
  t.throws(() => parseConfig({ privacy: { consentNotice: '' } }), { code: 'CONFIG_INVALID' });
});

t.test('the shipped default.yaml turns encryption and requireConsent on, the key beside the data', async (t) => {
  const c = loadConfig(join(ROOT, 'config/default.yaml'));
  t.equal(c.privacy.encryption.enabled, true);
  t.equal(c.privacy.encryption.keyFile, join(ROOT, 'data/facegate.key'));
  t.equal(c.privacy.requireConsent, true);
  t.match(readFileSync(join(ROOT, 'config/default.yaml'), 'utf8'), /facegate keys init --config/);
});

t.test('a changed encryption setting needs a restart; requireConsent applies at once', async (t) => {
  const a = parseConfig({});
  const b = parseConfig({ privacy: { encryption: { enabled: true } } });
  t.ok(diffConfig(a, b).privacy);
  t.same(restartNeeded(a, b), ['privacy.encryption']);
  t.same(restartNeeded(a, parseConfig({ privacy: { requireConsent: true } })), []);
  t.same(restartNeeded(a, parseConfig({ privacy: { retention: { unknownHours: 12 } } })), ['privacy.retention'], 'the retention run is set up at start');
});

t.test('events.snapshots.blurOthers applies at once; the rest of events.snapshots needs a restart', async (t) => {
  const a = parseConfig({});
  t.same(restartNeeded(a, parseConfig({ events: { snapshots: { blurOthers: true } } })), [], 'the snapshot store reads blurOthers at each save');
  t.same(restartNeeded(a, parseConfig({ events: { snapshots: { retentionDays: 3 } } })), ['events'], 'the snapshot retention is set when the store opens');
  t.same(restartNeeded(a, parseConfig({ events: { snapshots: { blurOthers: true, retentionDays: 3 } } })), ['events']);
});
