import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import t, { type Test } from 'tap';
import { applyConfigChange, configVersion, createConfigEditor, isConfigEditError, redactConfigText } from '../../src/config/edit.ts';
import { diffLines, unifiedDiff } from '../../src/config/history.ts';
import { formatConfigPath, isConfigError, parseConfigText } from '../../src/config/index.ts';

const BASE = `# facegate on the front door
server:
  port: 8640 # the dashboard's port

cameras:
  # the street side
  - id: door
    name: Front door
    source:
      kind: rtsp
      url: rtsp://admin:s3cret@192.0.2.10:554/stream1 # main stream
    fps: 5

gates:
  - id: main
    cameras: [door]
    allow:
      groups: [staff]
`;

function tempConfig(t: Test, text = BASE): string {
  const dir = mkdtempSync(join(tmpdir(), 'fg-config-edit-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'facegate.yaml');
  writeFileSync(file, text, { mode: 0o640 });
  chmodSync(file, 0o640);
  return file;
}

t.test('a valid base config', async (t) => {
  const c = parseConfigText(BASE);
  t.equal(c.cameras.length, 1);
  t.equal(c.gates.length, 1);
});

t.test('adding a camera keeps every comment and the key order', async (t) => {
  const { text, paths } = applyConfigChange(BASE, { op: 'put', section: 'cameras', id: 'yard', value: { name: 'Yard', source: { kind: 'test' } } });
  t.same(paths, ['cameras.yard']);
  for (const comment of ['# facegate on the front door', "# the dashboard's port", '# the street side', '# main stream']) t.ok(text.includes(comment), comment);
  t.ok(text.startsWith(BASE.split('\ngates:')[0].trimEnd()), 'everything before the new camera is byte for byte as it was');
  const c = parseConfigText(text);
  t.same(
    c.cameras.map((x) => x.id),
    ['door', 'yard'],
  );
  t.ok(text.indexOf('server:') < text.indexOf('cameras:') && text.indexOf('cameras:') < text.indexOf('gates:'), 'sections keep their order');
  t.match(text, /- id: yard\n\s+name: Yard/, 'the new item starts with its id');
});

t.test('replacing a camera changes only what differs and keeps its comments', async (t) => {
  const { text } = applyConfigChange(BASE, { op: 'put', section: 'cameras', id: 'door', value: { name: 'Front door', source: { kind: 'rtsp', url: 'rtsp://admin:s3cret@192.0.2.10:554/stream1' }, fps: 8 } });
  t.ok(text.includes('url: rtsp://admin:s3cret@192.0.2.10:554/stream1 # main stream'), 'the untouched URL keeps its trailing comment');
  t.ok(text.includes('# the street side'));
  t.match(text, /fps: 8/);
  t.equal(parseConfigText(text).cameras[0].fps, 8);
  t.equal(text.replace('fps: 8', 'fps: 5'), BASE, 'nothing else changed');
});

t.test('a redacted secret sent back keeps the one in the file', async (t) => {
  const { text } = applyConfigChange(BASE, { op: 'put', section: 'cameras', id: 'door', value: { name: 'Door', source: { kind: 'rtsp', url: 'rtsp://***@192.0.2.10:554/stream1' }, fps: 5 } });
  t.ok(text.includes('rtsp://admin:s3cret@192.0.2.10:554/stream1'), 'the password stays');
  t.ok(text.includes('name: Door'));
  const moved = applyConfigChange(BASE, { op: 'put', section: 'cameras', id: 'door', value: { source: { kind: 'rtsp', url: 'rtsp://***@192.0.2.99/other' } } }).text;
  t.ok(moved.includes('rtsp://***@192.0.2.99/other'), 'a different URL is taken as sent');
});

t.test('removing a camera and a gate, setting and removing a path', async (t) => {
  const noGate = applyConfigChange(BASE, { op: 'remove', section: 'gates', id: 'main' }).text;
  const none = applyConfigChange(noGate, { op: 'remove', section: 'cameras', id: 'door' }).text;
  const c = parseConfigText(none);
  t.equal(c.cameras.length, 0);
  t.equal(c.gates.length, 0);
  t.ok(none.includes('# facegate on the front door'));
  const set = applyConfigChange(BASE, { op: 'set', path: ['server', 'port'], value: 9000 });
  t.same(set.paths, ['server.port']);
  t.ok(set.text.includes("port: 9000 # the dashboard's port"), 'a scalar changes in place with its comment');
  const unset = applyConfigChange(set.text, { op: 'set', path: ['server', 'port'], value: undefined }).text;
  t.equal(parseConfigText(unset).server.port, 8640, 'the default again');
  const err = t.throws(() => applyConfigChange(BASE, { op: 'remove', section: 'cameras', id: 'nope' })) as unknown;
  t.ok(isConfigEditError(err) && err.code === 'CONFIG_EDIT_NOT_FOUND');
  const bad = t.throws(() => applyConfigChange(BASE, { op: 'put', section: 'gates', id: 'main', value: { id: 'other', cameras: ['door'] } })) as unknown;
  t.ok(isConfigEditError(bad) && bad.code === 'CONFIG_EDIT_BAD');
});

t.test('an empty flow list grows into a block list', async (t) => {
  const { text } = applyConfigChange('# no cameras yet\ncameras: [] # filled in later\n', { op: 'put', section: 'cameras', id: 'a', value: { source: { kind: 'test' } } });
  t.match(text, /^# no cameras yet\ncameras:\n {2}# filled in later\n {2}- id: a\n/);
});

t.test('a file without the section gets it', async (t) => {
  const { text } = applyConfigChange('# empty config\n', { op: 'put', section: 'cameras', id: 'a', value: { source: { kind: 'test' } } });
  t.ok(text.includes('# empty config'));
  t.same(
    parseConfigText(text).cameras.map((c) => c.id),
    ['a'],
  );
});

t.test('the editor: write, versions, conflict, invalid edit, history, diff, rollback', async (t) => {
  const file = tempConfig(t);
  let clock = 1_700_000_000_000;
  const editor = createConfigEditor(file, { keep: 4, now: () => ++clock });
  const v0 = editor.current().version;
  t.equal(v0, configVersion(readFileSync(file)), 'the version is the sha256 of the bytes, shortened');
  t.equal(v0.length, 16);

  const r1 = editor.edit({ op: 'put', section: 'cameras', id: 'yard', value: { source: { kind: 'test' } } }, { ifMatch: v0, actor: 'admin-1' });
  t.ok(r1.changed);
  t.equal(r1.previous, v0);
  t.equal(r1.version, configVersion(readFileSync(file)));
  t.same(r1.paths, ['cameras.yard']);
  t.equal(statSync(file).mode & 0o777, 0o640, 'the file keeps its mode');
  t.ok(readFileSync(file, 'utf8').includes('# the street side'));
  t.same(
    r1.config.cameras.map((c) => c.id),
    ['door', 'yard'],
  );

  // A second client still holding v0.
  const stale = t.throws(() => editor.edit({ op: 'remove', section: 'cameras', id: 'door' }, { ifMatch: v0, actor: 'admin-2' })) as unknown;
  t.ok(isConfigEditError(stale) && stale.code === 'CONFIG_CONFLICT' && stale.current === r1.version, 'a stale edit is refused with the current version');
  t.equal(editor.current().version, r1.version, 'and the file is untouched');

  // An invalid edit: the same path + fix as `config check`, nothing written.
  const before = readFileSync(file, 'utf8');
  const invalid = t.throws(() => editor.edit({ op: 'put', section: 'cameras', id: 'cam2', value: { source: { kind: 'rtsp', url: 'rtsp://h/x' }, fps: -3 } }, { ifMatch: r1.version, actor: 'admin-1' })) as unknown;
  t.ok(isConfigError(invalid), 'a ConfigError');
  if (isConfigError(invalid)) {
    const issue = invalid.issues.find((i) => formatConfigPath(i.path) === 'cameras[2].fps');
    t.ok(issue, 'names cameras[2].fps');
    t.match(issue?.message ?? '', /must be/);
    t.ok(issue?.line !== undefined, 'with its line in the new text');
  }
  const badGate = t.throws(() => editor.edit({ op: 'put', section: 'gates', id: 'side', value: { cameras: ['nowhere'] } }, { ifMatch: r1.version, actor: 'admin-1' })) as unknown;
  t.ok(isConfigError(badGate) && badGate.issues.some((i) => formatConfigPath(i.path).startsWith('gates[1].cameras') && i.hint), 'the cross-section check with its fix');
  t.equal(readFileSync(file, 'utf8'), before, 'a refused edit leaves the file as it was');

  const r2 = editor.edit({ op: 'set', path: ['cameras', 0, 'fps'], value: 7 }, { ifMatch: r1.version, actor: 'admin-1' });
  const same = editor.edit({ op: 'set', path: ['cameras', 0, 'fps'], value: 7 }, { ifMatch: r2.version, actor: 'admin-1' });
  t.notOk(same.changed, 'a change that changes nothing writes nothing');

  const h = editor.history();
  t.same(
    h.map((e) => e.version),
    [r2.version, r1.version, v0],
    'newest first, the hand-written version recorded before the first edit',
  );
  t.equal(h[2].actor, 'file');
  t.equal(h[0].actor, 'admin-1');
  const d = editor.diff(r2.version);
  t.equal(d.previous, r1.version);
  t.match(d.diff, /^--- [0-9a-f]{16}\n\+\+\+ [0-9a-f]{16}\n@@ /);
  t.match(d.diff, /\n- {4}fps: 5\n\+ {4}fps: 7\n/);

  const back = editor.rollback(v0, { actor: 'admin-2' });
  t.ok(back.rollback && back.changed);
  t.equal(back.version, v0);
  t.equal(readFileSync(file, 'utf8'), BASE, 'rollback restores the file byte for byte');
  t.same([...back.paths].sort(), ['cameras.door', 'cameras.yard'], 'the paths the rollback changed');
  t.equal(editor.history()[0].rollback, true);
  const gone = t.throws(() => editor.rollback('0123456789abcdef', { actor: 'x' })) as unknown;
  t.ok(isConfigEditError(gone) && gone.code === 'CONFIG_EDIT_NOT_FOUND');

  // The history keeps the last 4 entries.
  let v = back.version;
  for (let fps = 1; fps <= 4; fps++) v = editor.edit({ op: 'set', path: ['cameras', 0, 'fps'], value: fps }, { ifMatch: v, actor: 'a' }).version;
  t.equal(editor.history().length, 4);
  const historyFiles = readdirSync(join(resolve(file, '..'), '.history', 'facegate.yaml'));
  t.equal(historyFiles.length, 8, 'each entry: its bytes and its record');
  t.ok(historyFiles.every((f) => (statSync(join(resolve(file, '..'), '.history', 'facegate.yaml', f)).mode & 0o077) === 0o040 || (statSync(join(resolve(file, '..'), '.history', 'facegate.yaml', f)).mode & 0o077) === 0), 'never wider than the file');
});

t.test('a failed write leaves the old file whole and no temp file behind', async (t) => {
  const file = tempConfig(t, `${BASE}${'# padding\n'.repeat(80)}`);
  const before = readFileSync(file, 'utf8');
  t.ok(before.length > 1024);
  // A real write failure: the child may not write files over 1 KiB (RLIMIT_FSIZE; Node ignores
  // SIGXFSZ, so the write fails with EFBIG), and the new text is larger than that.
  const script = `
    import { createConfigEditor } from ${JSON.stringify(resolve('src/config/edit.ts'))};
    const e = createConfigEditor(${JSON.stringify(file)}, { historyDir: ${JSON.stringify(join(tmpdir(), 'fg-nohist-' + process.pid))} });
    try {
      e.edit({ op: 'put', section: 'cameras', id: 'yard', value: { source: { kind: 'test' } } }, { ifMatch: e.current().version, actor: 'a' });
      console.log('written');
    } catch (err) { console.log('failed ' + err.code); }
  `;
  const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', SCRIPT: script };
  // tsx caches what it compiles under the temp folder: load the modules once without the limit,
  // or a cold cache (a fresh clone) fails on tsx's own cache files before the edit runs.
  const warm = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', `await import(${JSON.stringify(resolve('src/config/edit.ts'))});`], { env, encoding: 'utf8' });
  t.equal(warm.status, 0, `the modules load (${warm.stderr.slice(0, 300)})`);
  const r = spawnSync('bash', ['-c', `ulimit -f 1 && exec "${process.execPath}" --import tsx --input-type=module -e "$SCRIPT"`], { env, encoding: 'utf8' });
  rmSync(join(tmpdir(), `fg-nohist-${process.pid}`), { recursive: true, force: true });
  t.match(r.stdout, /failed EFBIG/, `the write failed (status ${String(r.status)}, signal ${String(r.signal)}: ${r.stderr.slice(0, 300)})`);
  t.equal(readFileSync(file, 'utf8'), before, 'the old file is whole');
  t.same(
    readdirSync(resolve(file, '..')).filter((f) => f.includes('.tmp-')),
    [],
    'the temp file is gone',
  );
});

t.test('line diff', async (t) => {
  t.same(diffLines(['a', 'b', 'c'], ['a', 'x', 'c']), [
    { op: ' ', text: 'a' },
    { op: '-', text: 'b' },
    { op: '+', text: 'x' },
    { op: ' ', text: 'c' },
  ]);
  t.same(diffLines([], ['a']), [{ op: '+', text: 'a' }]);
  t.same(diffLines(['a'], []), [{ op: '-', text: 'a' }]);
  t.equal(unifiedDiff('a\nb\n', 'a\nb\n', { from: 'x', to: 'y' }), '');
  const long = Array.from({ length: 30 }, (_, i) => `line ${i}`);
  const changed = long.map((l, i) => (i === 3 || i === 25 ? `${l} changed` : l));
  const u = unifiedDiff(`${long.join('\n')}\n`, `${changed.join('\n')}\n`, { from: 'x', to: 'y' });
  t.equal(u.match(/^@@/gm)?.length, 2, 'two hunks for two distant changes');
  t.match(u, /@@ -1,7 \+1,7 @@/);
  t.match(u, /@@ -23,7 \+23,7 @@/);
  // Any pair: applying the diff's lines gives both texts back.
  for (let seed = 1; seed < 40; seed++) {
    const a = Array.from({ length: seed % 9 }, (_, i) => String((i * seed) % 5));
    const b = Array.from({ length: (seed * 7) % 11 }, (_, i) => String((i + seed) % 4));
    const d = diffLines(a, b);
    t.same(
      d.filter((l) => l.op !== '+').map((l) => l.text),
      a,
    );
    t.same(
      d.filter((l) => l.op !== '-').map((l) => l.text),
      b,
    );
  }
});

t.test('redactConfigText hides secrets and keeps the comments', async (t) => {
  const text = `# box
auth:
  tokens:
    - { id: a, role: admin, sha256: ${'ab'.repeat(32)} }
cameras:
  - id: door # rtsp://old:OldPass1@192.0.2.1/x was the old one
    url: rtsp://admin:s3cret@192.0.2.10/stream1?token=T0ken9
gates:
  - id: main
    cameras: [door]
    actuation:
      webhook: { url: 'https://relay.example/open', secret: 0123456789abcdef0123 }
events:
  outputs:
    mqtt: { url: 'mqtt://127.0.0.1:1883', username: fg, password: MqttPass77 }
`;
  const out = redactConfigText(text);
  for (const secret of ['ab'.repeat(32), 's3cret', 'T0ken9', 'OldPass1', '0123456789abcdef0123', 'MqttPass77']) t.notOk(out.includes(secret), `hides ${secret.slice(0, 6)}…`);
  t.ok(out.includes('# box'));
  t.ok(out.includes('rtsp://***@192.0.2.10/stream1?token=***'));
  t.ok(out.includes("url: 'https://relay.example/open'") || out.includes('url: https://relay.example/open'), 'a URL without credentials is shown');
  t.equal(parseConfigText(text.replace('sha256: ' + 'ab'.repeat(32), 'sha256: ' + 'cd'.repeat(32))).gates.length, 1, 'the example is a valid config');
});
