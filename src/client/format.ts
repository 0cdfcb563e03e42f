/** One line per event for people (`facegate watch`, the demo): id, time, type, where, who, why. */
export interface PrintableEvent {
  readonly id: number;
  readonly type: string;
  readonly time?: unknown;
  readonly cameraId?: unknown;
  readonly gateId?: unknown;
  readonly trackId?: unknown;
  readonly data?: unknown;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined);
const num = (v: unknown): string | undefined => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(2) : undefined);

export function formatEvent(e: PrintableEvent): string {
  const d = (typeof e.data === 'object' && e.data !== null ? e.data : {}) as Record<string, unknown>;
  const time = str(e.time)?.slice(11, 23) ?? '';
  const where = [str(e.gateId) ? `gate=${str(e.gateId)}` : undefined, str(e.cameraId) ? `camera=${str(e.cameraId)}` : undefined, str(e.trackId) ? `track=${str(e.trackId)}` : undefined].filter(Boolean).join(' ');
  const details: (string | undefined)[] = [];
  switch (e.type) {
    case 'face.recognized':
    case 'gate.granted':
      details.push(str(d.name), num(d.score) && `score ${num(d.score)}`, d.masked === true ? 'masked' : undefined);
      break;
    case 'face.unknown':
      details.push(str(d.unknownId) ?? 'unknown', d.masked === true ? 'masked' : undefined);
      break;
    case 'gate.denied':
      details.push(`reason=${str(d.reason) ?? '?'}`, str(d.name), num(d.score) && `score ${num(d.score)}`, d.masked === true ? 'masked' : undefined);
      break;
    case 'gate.opened':
      details.push(str(d.action), str(d.by) && `by ${str(d.by)}`, str(d.reason));
      break;
    case 'camera.up':
      details.push(d.width !== undefined ? `${str(d.width)}x${str(d.height)}` : undefined);
      break;
    case 'camera.down':
      details.push(str(d.reason), str(d.message));
      break;
    case 'track.ended':
      details.push(str(d.frameCount) && `${str(d.frameCount)} frames`);
      break;
    case 'system.health':
      details.push(str(d.status), str(d.message));
      break;
  }
  return `#${e.id} ${time} ${e.type.padEnd(15)} ${where}${details.some(Boolean) ? '  ' + details.filter(Boolean).join(', ') : ''}`;
}
