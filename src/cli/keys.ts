/**
 * `facegate keys init|rotate|status --config FILE`: the key-encryption key (KEK) of encryption at
 * rest (docs/privacy.md).
 *
 * Rotation is crash-safe: kill -9 at any step leaves the gallery and the snapshots readable with
 * whichever key the key file then holds, and running the command again finishes the job.
 *  1. the new KEK is written to `<keyFile>.next` (0600, fsynced); a run that finds one resumes it;
 *  2. every data key is wrapped under the new KEK too (gallery: one transaction; snapshots: one
 *     atomic keyring write); with --reencrypt a fresh data key, wrapped under both, becomes active;
 *  3. --reencrypt: rows re-sealed in batches (a transaction each), snapshot files one by one
 *     (atomic rename); each record names its data key, all held until the last is done;
 *  4. the switch: the old key is kept as `<keyFile>.retired-<fingerprint>`, then `.next` is renamed
 *     over the key file (atomic);
 *  5. the wraps under the old KEK are dropped.
 * Before 4 the old KEK opens everything, after 4 the new one does.
 */
import { existsSync, linkSync, renameSync } from 'node:fs';
import type { Command } from 'commander';
import { loadConfig, type Config } from '../config/index.ts';
import { addSnapshotWraps, pruneSnapshotWraps, retireSnapshotKeys, SnapshotStore, SNAPSHOT_KEYRING } from '../events/snapshots.ts';
import { addWraps, dropOtherWraps, galleryFileEncrypted, reencryptRows, withGalleryDb } from '../gallery/index.ts';
import { fsyncDir, kekId, loadKek, newKek, PrivacyError, readKeyFile, readKeyringFile, writeKeyFile } from '../privacy/index.ts';
import { dirname, join } from 'node:path';
import { positiveInt } from './common.ts';

const out = (line: string): void => void process.stdout.write(`${line}\n`);

export function runKeysInit(configFile: string): void {
  const config = loadConfig(configFile);
  const file = config.privacy.encryption.keyFile;
  const kek = newKek();
  writeKeyFile(file, kek, { exclusive: true });
  out(`created key ${kekId(kek)} in ${file} (mode 0600)`);
  out('back it up now, apart from the data (a password manager, a sealed envelope): without it the encrypted data cannot be read');
  if (!config.privacy.encryption.enabled) out(`note: privacy.encryption.enabled is false in ${configFile}: set it to true to encrypt`);
}

export interface RotateOptions {
  readonly reencrypt: boolean;
  readonly batch: number;
}

export async function runKeysRotate(configFile: string, o: RotateOptions): Promise<void> {
  const config = loadConfig(configFile);
  const e = config.privacy.encryption;
  const current = loadKek({ keyFile: e.keyFile, keyEnv: e.keyEnv });
  if (current.kind !== 'file') {
    throw new PrivacyError('PRIVACY_BAD_ARGUMENT', `the key comes from the ${current.source}; \`keys rotate\` replaces a key file`, {
      hint: 'to rotate a key held in the environment or a systemd credential: put the current key in privacy.encryption.keyFile (unset the variable), rotate, then move the new key back',
    });
  }
  const keyFile = e.keyFile;
  const nextFile = `${keyFile}.next`;
  const oldKek = current.kek;
  const resuming = existsSync(nextFile);
  const next = resuming ? readKeyFile(nextFile) : newKek();
  if (!resuming) writeKeyFile(nextFile, next, { exclusive: true });
  out(`${resuming ? 'resuming the rotation' : 'rotating'}: key ${kekId(oldKek)} -> ${kekId(next)}${o.reencrypt ? ', data re-encrypted under a new data key' : ''}`);
  const now = Date.now();
  const galleryPath = config.gallery.db;
  const snapDir = config.events.snapshots.dir;
  const hasGallery = existsSync(galleryPath) && galleryFileEncrypted(galleryPath);
  const hasSnapshots = readKeyringFile(join(snapDir, SNAPSHOT_KEYRING)) !== undefined;

  // 2. Wrap under both.
  if (hasGallery) withGalleryDb(galleryPath, { encryption: { kek: oldKek, source: current.source } }, (db) => addWraps(db, galleryPath, oldKek, next, { newDataKey: o.reencrypt, now }));
  const snapKeys = hasSnapshots ? addSnapshotWraps(snapDir, oldKek, next, { newDataKey: o.reencrypt, now }) : undefined;
  out(`wrapped under the new key: ${[hasGallery ? 'gallery' : '', hasSnapshots ? 'snapshots' : ''].filter(Boolean).join(', ') || 'nothing encrypted yet'}`);

  // 3. Re-encrypt.
  if (o.reencrypt) {
    if (hasGallery) {
      const r = withGalleryDb(galleryPath, { encryption: { kek: next, source: nextFile } }, (db) => reencryptRows(db, galleryPath, next, { batch: o.batch, onBatch: (n) => out(`gallery: ${n} records re-encrypted`) }));
      out(`gallery: ${r.rows} records re-encrypted; data keys retired: ${r.retired.join(', ') || 'none'}`);
    }
    if (snapKeys) {
      const store = new SnapshotStore(snapDir, { retentionMs: Number.MAX_SAFE_INTEGER, maxFiles: Number.MAX_SAFE_INTEGER, encryption: { kek: next, source: nextFile } });
      const n = await store.reencrypt(snapKeys, (done) => done % 100 === 0 && out(`snapshots: ${done} files re-encrypted`));
      retireSnapshotKeys(snapDir, snapKeys.active);
      out(`snapshots: ${n} files re-encrypted`);
    }
  }

  // 4. The switch: keep the old key for the backups made with it, then the new one in place.
  const retired = `${keyFile}.retired-${kekId(oldKek)}`;
  if (!existsSync(retired)) linkSync(keyFile, retired);
  renameSync(nextFile, keyFile);
  fsyncDir(dirname(keyFile));
  out(`key file ${keyFile} now holds ${kekId(next)}; the old key is kept as ${retired} for backups made before now`);

  // 5. Forget the old wraps.
  if (hasGallery) withGalleryDb(galleryPath, { encryption: { kek: next, source: keyFile } }, (db) => dropOtherWraps(db, next));
  if (hasSnapshots) pruneSnapshotWraps(snapDir, next);
  out('done: back up the new key file now; delete the retired one once no backup needs it');
}

export function runKeysStatus(configFile: string): void {
  const config: Config = loadConfig(configFile);
  const e = config.privacy.encryption;
  out(`encryption: ${e.enabled ? 'on' : 'off'}`);
  const k = loadKek({ keyFile: e.keyFile, keyEnv: e.keyEnv });
  out(`key: ${kekId(k.kek)} from the ${k.source}`);
  if (existsSync(config.gallery.db)) {
    const enc = galleryFileEncrypted(config.gallery.db);
    // Opening unlocks the data keys: a wrong key fails here with the fingerprints.
    if (enc) withGalleryDb(config.gallery.db, { encryption: { kek: k.kek, source: k.source } }, () => undefined);
    out(`gallery ${config.gallery.db}: ${enc ? 'encrypted, opens with this key' : 'not encrypted'}`);
  }
  const ring = readKeyringFile(join(config.events.snapshots.dir, SNAPSHOT_KEYRING));
  out(`snapshots ${config.events.snapshots.dir}: ${ring ? `encrypted, ${new Set(ring.map((w) => w.keyId)).size} data key(s)` : 'not encrypted'}`);
  if (existsSync(`${e.keyFile}.next`)) out(`an interrupted rotation left ${e.keyFile}.next: run \`facegate keys rotate --config ${configFile}\` again to finish it`);
}

export function registerKeysCommand(program: Command): void {
  const keys = program.command('keys').description('the key that encrypts biometric data at rest (docs/privacy.md)');
  keys
    .command('init')
    .description('create the key file named by privacy.encryption.keyFile (mode 0600); never overwrites one')
    .requiredOption('-c, --config <file>', 'YAML config file')
    .action((o: { config: string }) => runKeysInit(o.config));
  keys
    .command('rotate')
    .description('replace the key: data keys re-wrapped under a new one (crash-safe; run again after an interruption)')
    .requiredOption('-c, --config <file>', 'YAML config file')
    .option('--reencrypt', 'also re-encrypt every record under a new data key (stop the service first)')
    .option('--batch <n>', 'records per transaction when re-encrypting', positiveInt('--batch'), 500)
    .action(async (o: { config: string; reencrypt?: boolean; batch: number }) => runKeysRotate(o.config, { reencrypt: o.reencrypt === true, batch: o.batch }));
  keys
    .command('status')
    .description('which key is in use, and whether the gallery and the snapshots are encrypted and open with it')
    .requiredOption('-c, --config <file>', 'YAML config file')
    .action((o: { config: string }) => runKeysStatus(o.config));
}
