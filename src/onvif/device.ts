/**
 * One ONVIF device over HTTP: the media service's URL (GetServices, or GetCapabilities on older
 * devices), its profiles, and each profile's RTSP stream URI and snapshot URI, with a WS-Security
 * UsernameToken (password digest) on every request when credentials are given. The password is
 * only ever hashed into the digest: it is in no URL, message or error this module makes.
 */
import { randomBytes } from 'node:crypto';
import { redactUrl } from '../redact.ts';
import { OnvifError } from './errors.ts';
import {
  actionOf,
  envelope,
  parseCapabilitiesMediaXAddr,
  parseFault,
  parseMediaUri,
  parseProfiles,
  parseServicesMediaXAddr,
  requests,
  securityHeader,
  type Credentials,
  type MediaProfile,
} from './soap.ts';
import { MAX_XML_CHARS, parseXml, XmlError, type XmlElement } from './xml.ts';

export interface DeviceOptions {
  readonly credentials?: Credentials | undefined;
  /** Per request (ms). */
  readonly timeoutMs: number;
  /** Clock for the UsernameToken's Created (tests). */
  readonly now?: () => Date;
}

export interface ProfileStreams extends MediaProfile {
  readonly streamUri?: string | undefined;
  readonly snapshotUri?: string | undefined;
}

/** The authentication faults devices send (ONVIF Core: ter:NotAuthorized; some use sender codes). */
const AUTH_SUBCODES = new Set(['NotAuthorized', 'FailedAuthentication', 'InvalidSecurity']);

export interface OnvifDevice {
  /** The media service URL (falls back to the device URL when the device does not say). */
  mediaXAddr(): Promise<string>;
  profiles(media: string): Promise<MediaProfile[]>;
  streamUri(media: string, token: string): Promise<string | undefined>;
  snapshotUri(media: string, token: string): Promise<string | undefined>;
  /** All of the above: every profile with its stream and snapshot URIs. */
  streams(): Promise<ProfileStreams[]>;
}

export function onvifDevice(xaddr: string, opts: DeviceOptions): OnvifDevice {
  const now = opts.now ?? (() => new Date());
  const call = async (url: string, body: string): Promise<XmlElement> => {
    const header = opts.credentials ? securityHeader(opts.credentials, randomBytes(16), now().toISOString().replace(/\.\d{3}Z$/, 'Z')) : '';
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': `application/soap+xml; charset=utf-8; action="${actionOf(body)}"` },
        body: envelope(body, header),
        signal: AbortSignal.timeout(opts.timeoutMs),
        redirect: 'error',
      });
    } catch (e) {
      const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).name;
      throw new OnvifError('ONVIF_UNREACHABLE', `no answer from ${redactUrl(url)} (${cause})`, { cause: e, hint: 'check the address and that the camera has ONVIF enabled (often off by default)' });
    }
    const text = await res.text();
    if (text.length > MAX_XML_CHARS) throw new OnvifError('ONVIF_BAD_RESPONSE', `the answer from ${redactUrl(url)} is too large`);
    let root: XmlElement;
    try {
      root = parseXml(text);
    } catch (e) {
      if (res.status === 401) throw authError(url);
      throw new OnvifError('ONVIF_BAD_RESPONSE', `${redactUrl(url)} answered HTTP ${res.status} without SOAP (${e instanceof XmlError ? e.message : 'unreadable'})`, { cause: e, hint: 'is this the ONVIF device service URL (usually http://HOST/onvif/device_service)?' });
    }
    const fault = parseFault(root);
    if (fault) {
      if (res.status === 401 || (fault.subcode !== undefined && AUTH_SUBCODES.has(fault.subcode))) throw authError(url);
      throw new OnvifError('ONVIF_FAULT', `${redactUrl(url)} answered a SOAP fault: ${fault.subcode ?? fault.code}${fault.reason ? ` (${fault.reason.slice(0, 200)})` : ''}`);
    }
    if (res.status === 401) throw authError(url);
    return root;
  };
  const authError = (url: string): OnvifError =>
    new OnvifError('ONVIF_AUTH', `${redactUrl(url)} refused ${opts.credentials ? 'the credentials' : 'the request without credentials'}`, {
      hint: opts.credentials ? "check the user and password (an ONVIF user on the camera, which may differ from the web UI's) and that the camera's clock is right (the digest carries the time)" : 'give --user and --password-env',
    });

  const device: OnvifDevice = {
    mediaXAddr: async () => {
      try {
        const m = parseServicesMediaXAddr(await call(xaddr, requests.getServices()));
        if (m) return m;
      } catch (e) {
        if (e instanceof OnvifError && (e.code === 'ONVIF_AUTH' || e.code === 'ONVIF_UNREACHABLE')) throw e;
        // GetServices is optional before ONVIF 2.0: ask GetCapabilities below.
      }
      return parseCapabilitiesMediaXAddr(await call(xaddr, requests.getCapabilities())) ?? xaddr;
    },
    profiles: async (media) => parseProfiles(await call(media, requests.getProfiles())),
    streamUri: async (media, token) => parseMediaUri(await call(media, requests.getStreamUri(token))),
    snapshotUri: async (media, token) => {
      try {
        return parseMediaUri(await call(media, requests.getSnapshotUri(token)));
      } catch (e) {
        // Snapshots are optional (a fault means none); an auth failure is not.
        if (e instanceof OnvifError && e.code === 'ONVIF_FAULT') return undefined;
        throw e;
      }
    },
    streams: async () => {
      const media = await device.mediaXAddr();
      const out: ProfileStreams[] = [];
      for (const p of await device.profiles(media)) {
        out.push({ ...p, streamUri: await device.streamUri(media, p.token), snapshotUri: await device.snapshotUri(media, p.token) });
      }
      return out;
    },
  };
  return device;
}
