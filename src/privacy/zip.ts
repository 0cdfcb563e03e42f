/**
 * A minimal ZIP writer (store only, no compression: the contents are JPEGs and small JSON) for the
 * subject-access export. Pure: entries in, one Buffer out. Classic ZIP (no ZIP64): at most 65535
 * entries and 4 GiB, far beyond one person's data; names are UTF-8 (general-purpose flag bit 11).
 */
import { crc32 } from 'node:zlib';
import { PrivacyError } from './errors.ts';

export interface ZipEntry {
  /** Path inside the archive: relative, '/'-separated, no '..' (checked). */
  readonly name: string;
  readonly data: Buffer;
  /** Modification time (default: 1980-01-01, the format's epoch). */
  readonly mtime?: Date;
}

const MAX_ENTRIES = 0xffff;
const MAX_BYTES = 0xffffffff;

function dosTime(d: Date): { time: number; date: number } {
  if (d.getUTCFullYear() < 1980) return { time: 0, date: (1 << 5) | 1 };
  return {
    time: (d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | Math.floor(d.getUTCSeconds() / 2),
    date: ((d.getUTCFullYear() - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate(),
  };
}

function checkName(name: string): Buffer {
  const bad = name.length === 0 || name.startsWith('/') || name.includes('\\') || name.split('/').some((p) => p === '..' || p === '.' || p === '') || /[\u0000-\u001f]/.test(name);
  if (bad) throw new PrivacyError('PRIVACY_BAD_ARGUMENT', `invalid name in the archive: ${JSON.stringify(name.slice(0, 80))}`, { hint: 'use a relative path of plain parts' });
  const bytes = Buffer.from(name, 'utf8');
  if (bytes.length > 0xffff) throw new PrivacyError('PRIVACY_BAD_ARGUMENT', 'name too long for a ZIP entry');
  return bytes;
}

/** The archive of `entries` (in order; names must be unique). */
export function zipStore(entries: readonly ZipEntry[]): Buffer {
  if (entries.length > MAX_ENTRIES) throw new PrivacyError('PRIVACY_BAD_ARGUMENT', `${entries.length} entries: a classic ZIP holds at most ${MAX_ENTRIES}`);
  const seen = new Set<string>();
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = checkName(e.name);
    if (seen.has(e.name)) throw new PrivacyError('PRIVACY_BAD_ARGUMENT', `duplicate name in the archive: ${JSON.stringify(e.name)}`);
    seen.add(e.name);
    if (e.data.length > MAX_BYTES || offset > MAX_BYTES) throw new PrivacyError('PRIVACY_BAD_ARGUMENT', 'archive too large for a classic ZIP');
    const crc = crc32(e.data) >>> 0;
    const { time, date } = dosTime(e.mtime ?? new Date(Date.UTC(1980, 0, 1)));
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed: 2.0
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(0, 8); // stored
    local.writeUInt16LE(time, 10);
    local.writeUInt16LE(date, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(e.data.length, 18);
    local.writeUInt32LE(e.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4); // made by: Unix, 2.0
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(0, 10);
    central.writeUInt16LE(time, 12);
    central.writeUInt16LE(date, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(e.data.length, 20);
    central.writeUInt32LE(e.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(((0o100600 << 16) >>> 0), 38); // external attributes: a regular file, 0600
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, e.data);
    centrals.push(central, name);
    offset += local.length + name.length + e.data.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}
