/**
 * What `facegate cameras discover` reports: the devices that answered a probe, each with its name
 * and hardware (from its scopes) and, asked over SOAP, its profiles with their RTSP stream URIs and
 * snapshot URIs. A device that fails (wrong password, no media service) is reported with its error;
 * the others are still listed.
 */
import { onvifDevice, type ProfileStreams } from './device.ts';
import { probeDevices, type ProbeAnswer, type ProbeTarget } from './discovery.ts';
import { isOnvifError } from './errors.ts';
import { scopeValue, type Credentials } from './soap.ts';

export interface DiscoverOptions {
  readonly timeoutMs: number;
  /** Probe the multicast group (default: only when no target is given). */
  readonly multicast?: boolean;
  readonly targets?: readonly ProbeTarget[];
  readonly credentials?: Credentials | undefined;
  readonly multicastInterface?: string;
}

export interface DiscoveredCamera {
  readonly address: string;
  readonly xaddr: string | undefined;
  readonly from: string;
  readonly name?: string | undefined;
  readonly hardware?: string | undefined;
  readonly profiles: readonly ProfileStreams[];
  readonly error?: { readonly code: string; readonly message: string; readonly hint?: string | undefined } | undefined;
}

/** The device service URL to ask: the first http(s) XAddr. */
export function pickXAddr(answer: Pick<ProbeAnswer, 'xaddrs'>): string | undefined {
  return answer.xaddrs.find((x) => /^https?:\/\//i.test(x));
}

export async function discoverCameras(opts: DiscoverOptions): Promise<DiscoveredCamera[]> {
  const targets = opts.targets ?? [];
  const answers = await probeDevices({ timeoutMs: opts.timeoutMs, multicast: opts.multicast ?? targets.length === 0, targets, multicastInterface: opts.multicastInterface });
  const out: DiscoveredCamera[] = [];
  for (const a of answers) {
    const xaddr = pickXAddr(a);
    const base = { address: a.address, xaddr, from: a.from, name: scopeValue(a.scopes, 'name'), hardware: scopeValue(a.scopes, 'hardware') };
    if (!xaddr) {
      out.push({ ...base, profiles: [], error: { code: 'ONVIF_BAD_RESPONSE', message: 'the device named no http(s) service address' } });
      continue;
    }
    try {
      const profiles = await onvifDevice(xaddr, { credentials: opts.credentials, timeoutMs: Math.max(2000, opts.timeoutMs) }).streams();
      out.push({ ...base, profiles });
    } catch (e) {
      if (!isOnvifError(e)) throw e;
      out.push({ ...base, profiles: [], error: { code: e.code, message: e.message, hint: e.hint } });
    }
  }
  return out;
}
