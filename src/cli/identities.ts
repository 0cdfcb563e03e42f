import { Option, type Command } from 'commander';
import { writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { eraseIdentity, type ErasureReceipt } from '../app/erasure.ts';
import { openBoxData } from '../app/storage.ts';
import { exportSubject } from '../app/subject-export.ts';
import { loadConfig } from '../config/index.ts';
import { GalleryError, type Gallery, type Identity, type Template, type TemplateCount } from '../gallery/index.ts';
import { configOption, describeGalleryError as describe, withGallery } from './gallery-target.ts';

interface DbOptions {
  db: string;
  config?: string;
}

function countsText(counts: readonly TemplateCount[]): string {
  if (counts.length === 0) return 'none';
  const byModel = new Map<string, { plain: number; masked: number }>();
  for (const c of counts) {
    const m = byModel.get(c.modelId) ?? { plain: 0, masked: 0 };
    if (c.masked) m.masked += c.count;
    else m.plain += c.count;
    byModel.set(c.modelId, m);
  }
  return [...byModel].map(([model, m]) => `${model}: ${m.plain} plain${m.masked > 0 ? ` + ${m.masked} masked` : ''}`).join('; ');
}

const isoTime = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

function table(rows: readonly string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]))).join('  ')).join('\n');
}

function identityJson(identity: Identity, templates?: readonly Template[]): Record<string, unknown> {
  return {
    id: identity.id,
    name: identity.name,
    groups: identity.groups,
    metadata: identity.metadata,
    createdAt: isoTime(identity.createdAt),
    updatedAt: isoTime(identity.updatedAt),
    templateCounts: identity.templateCounts,
    templateTotal: identity.templateTotal,
    validUntil: identity.validUntil === undefined ? null : isoTime(identity.validUntil),
    ...(templates ? { templates: templates.map((t) => ({ ...t, createdAt: isoTime(t.createdAt) })) } : {}),
  };
}

function listIdentities(gallery: Gallery, json: boolean): void {
  const all = gallery.listIdentities();
  if (json) {
    process.stdout.write(`${JSON.stringify(all.map((i) => identityJson(i)), null, 2)}\n`);
    return;
  }
  if (all.length === 0) {
    process.stdout.write(`no identities in ${gallery.path}\n`);
    return;
  }
  const rows = [['ID', 'NAME', 'GROUPS', 'TEMPLATES', 'ENROLLED']];
  for (const i of all) rows.push([i.id, i.name, i.groups.join(',') || '-', countsText(i.templateCounts), isoTime(i.createdAt)]);
  process.stdout.write(`${table(rows)}\n${all.length} ${all.length === 1 ? 'identity' : 'identities'} in ${gallery.path}\n`);
}

function showIdentity(gallery: Gallery, query: string, json: boolean): void {
  const identity = gallery.resolve(query);
  const templates = gallery.listTemplates(identity.id);
  if (json) {
    process.stdout.write(`${JSON.stringify(identityJson(identity, templates), null, 2)}\n`);
    return;
  }
  const lines = [
    `${identity.name} (${identity.id})`,
    `  groups:    ${identity.groups.join(', ') || '-'}`,
    `  metadata:  ${Object.keys(identity.metadata).length > 0 ? JSON.stringify(identity.metadata) : '-'}`,
    `  enrolled:  ${isoTime(identity.createdAt)}   updated: ${isoTime(identity.updatedAt)}`,
    `  valid until: ${identity.validUntil === undefined ? '-' : `${isoTime(identity.validUntil)} (then erased by the retention run)`}`,
    `  templates: ${identity.templateTotal} (${countsText(identity.templateCounts)})`,
  ];
  if (templates.length > 0) {
    const rows = [['    ID', 'MODEL', 'KIND', 'DIM', 'QUALITY', 'PHOTO', 'CREATED']];
    for (const t of templates) {
      rows.push([`    ${t.id}`, t.modelId, t.masked ? 'masked' : 'plain', String(t.dim), t.quality === null ? '-' : t.quality.toFixed(3), t.sourcePhotoSha256 ? t.sourcePhotoSha256.slice(0, 12) : '(from unknown)', isoTime(t.createdAt)]);
    }
    lines.push(table(rows));
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

function removeIdentity(gallery: Gallery, query: string, yes: boolean): void {
  const identity = gallery.resolve(query);
  const what = `${identity.name} (${identity.id}) and ${identity.templateTotal === 1 ? 'its template' : `its ${identity.templateTotal} templates`}`;
  if (!yes) {
    throw new GalleryError('GALLERY_BAD_ARGUMENT', `not removing ${what} without confirmation`, { hint: `re-run with --yes: facegate identities remove ${identity.id} --yes` });
  }
  gallery.remove(identity.id);
  process.stdout.write(`removed ${what}\n`);
}

function renameIdentity(gallery: Gallery, query: string, newName: string): void {
  const identity = gallery.resolve(query);
  const renamed = gallery.rename(identity.id, newName);
  process.stdout.write(`renamed ${identity.id}: "${identity.name}" -> "${renamed.name}"\n`);
}

/** A time for --valid-until: ms since the epoch, an ISO date, or 'none'. */
export function parseValidUntil(text: string): number | null {
  const t = text.trim();
  if (t === 'none' || t === 'never') return null;
  if (/^\d{1,16}$/.test(t)) return Number(t);
  const ms = Date.parse(t);
  if (!Number.isFinite(ms)) throw new GalleryError('GALLERY_BAD_ARGUMENT', `--valid-until: ${JSON.stringify(t.slice(0, 40))} is not a time`, { hint: "give an ISO date (2027-01-31 or 2027-01-31T18:00:00Z), ms since the epoch, or 'none'" });
  return ms;
}

function setValidUntil(gallery: Gallery, query: string, when: string): void {
  const identity = gallery.resolve(query);
  const updated = gallery.setValidUntil(identity.id, parseValidUntil(when));
  process.stdout.write(updated.validUntil === undefined ? `${identity.id}: no end of validity\n` : `${identity.id}: valid until ${isoTime(updated.validUntil)}, then erased by the retention run\n`);
}

function needConfig(o: { config?: string }, what: string): string {
  if (!o.config) throw new GalleryError('GALLERY_BAD_ARGUMENT', `${what} needs --config FILE`, { hint: 'it works on the gallery, the event log and the snapshot folder the config names (and their key)' });
  return o.config;
}

function receiptText(r: ErasureReceipt): string {
  const lines = [
    `erased ${r.identityId} (erasure ${r.erasureId}; past events now carry ${r.tombstone})`,
    `  templates deleted:        ${r.templates}`,
    `  enrollment crops deleted: ${r.crops}`,
    `  unknown clusters:         ${r.unknownClusters}`,
    `  events tombstoned:        ${r.events} (decisions kept, name and id replaced)`,
    `  snapshots deleted:        ${r.snapshots}`,
    `  MQTT last_face cleared:   ${r.clearCameras.length ? r.clearCameras.join(', ') : 'none'}`,
    `  free pages zeroed (secure_delete): ${r.secureDelete ? 'yes' : 'NO'}; WAL truncated: ${r.walTruncated ? 'yes' : 'not yet (the service held a read; its next checkpoint does it)'}`,
  ];
  return `${lines.join('\n')}\n`;
}

async function withBoxData(o: { config?: string }, what: string, fn: (data: ReturnType<typeof openBoxData>) => Promise<void>): Promise<void> {
  let data: ReturnType<typeof openBoxData> | undefined;
  try {
    data = openBoxData(loadConfig(needConfig(o, what)));
    await fn(data);
  } catch (e) {
    process.stderr.write(`error: ${describe(e)}\n`);
    process.exitCode = 1;
  } finally {
    data?.close();
  }
}

/** `facegate identities list|show|remove|rename|valid-until|erase|export`. */
export function registerIdentitiesCommand(program: Command, opts: { defaultDb: string }): void {
  const dbOption = (): Option => new Option('--db <path>', 'gallery database file').default(opts.defaultDb);
  const identities = program.command('identities').description('list, show, rename and remove enrolled identities');

  identities
    .command('list')
    .description('list enrolled identities with their template counts')
    .addOption(dbOption())
    .addOption(configOption())
    .option('--json', 'print a JSON array')
    .action((o: DbOptions & { json?: boolean }) => withGallery(o, (g) => listIdentities(g, o.json === true)));

  identities
    .command('show')
    .description('show one identity and its templates')
    .argument('<id-or-name>', 'identity id (id_...) or name')
    .addOption(dbOption())
    .addOption(configOption())
    .option('--json', 'print a JSON object')
    .action((query: string, o: DbOptions & { json?: boolean }) => withGallery(o, (g) => showIdentity(g, query, o.json === true)));

  identities
    .command('remove')
    .description('remove an identity and all its templates')
    .argument('<id-or-name>', 'identity id (id_...) or name')
    .addOption(dbOption())
    .addOption(configOption())
    .option('--yes', 'confirm the removal')
    .action((query: string, o: DbOptions & { yes?: boolean }) => withGallery(o, (g) => removeIdentity(g, query, o.yes === true)));

  identities
    .command('valid-until')
    .description('set when an identity (a visitor) is erased by the retention run; none clears it')
    .argument('<id-or-name>', 'identity id (id_...) or name')
    .argument('<when>', "ISO date or time, ms since the epoch, or 'none'")
    .addOption(dbOption())
    .addOption(configOption())
    .action((query: string, when: string, o: DbOptions) => withGallery(o, (g) => setValidUntil(g, query, when)));

  identities
    .command('erase')
    .description('erase a person: templates, crops, consent, their snapshots; their name and id in past events replaced by a tombstone (decisions kept); resumable')
    .argument('<id-or-name>', 'identity id (id_...) or name')
    .addOption(configOption())
    .option('--json', 'print the receipt as JSON')
    .action((query: string, o: { config?: string; json?: boolean }) =>
      withBoxData(o, 'erase', async ({ gallery, eventLog, snapshots }) => {
        const receipt = await eraseIdentity({ gallery, eventLog, snapshots, publish: (e) => eventLog.append(e) }, query, { actor: `cli:${userInfo().username}` });
        process.stdout.write(o.json ? `${JSON.stringify(receipt, null, 2)}\n` : receiptText(receipt));
      }),
    );

  identities
    .command('export')
    .description("subject-access export: a person's profile, consent, enrollment crops, events and snapshots as one ZIP (JSON + JPEG, decrypted)")
    .argument('<id-or-name>', 'identity id (id_...) or name')
    .addOption(configOption())
    .requiredOption('--out <file.zip>', 'the ZIP to write (mode 0600; it holds biometric data in the clear)')
    .action((query: string, o: { config?: string; out: string }) =>
      withBoxData(o, 'export', async (data) => {
        const r = await exportSubject(data, query);
        writeFileSync(o.out, r.zip, { mode: 0o600, flag: 'wx' });
        process.stdout.write(`wrote ${o.out}: ${r.identityId}, ${r.counts.crops} crops, ${r.counts.events} events, ${r.counts.snapshots} snapshots (${r.zip.length} bytes)\n`);
      }),
    );

  identities
    .command('rename')
    .description('rename an identity')
    .argument('<id-or-name>', 'identity id (id_...) or current name')
    .argument('<new-name>', 'the new name')
    .addOption(dbOption())
    .addOption(configOption())
    .action((query: string, newName: string, o: DbOptions) => withGallery(o, (g) => renameIdentity(g, query, newName)));
}
