/**
 * ONVIF's SOAP messages as small pure functions: the WS-Discovery Probe and its ProbeMatches, the
 * WS-Security UsernameToken (password digest), the device and media requests a camera wizard needs
 * (GetServices, GetCapabilities, GetProfiles, GetStreamUri, GetSnapshotUri) and their answers, and
 * SOAP faults. Builders take every varying input (message id, nonce, time) as arguments, so they
 * are deterministic; parsers match by local name (cameras use any namespace prefixes).
 */
import { createHash } from 'node:crypto';
import { escapeXml, find, findAll, parseXml, textAt, type XmlElement } from './xml.ts';

export const NS = {
  soap: 'http://www.w3.org/2003/05/soap-envelope',
  wsa: 'http://schemas.xmlsoap.org/ws/2004/08/addressing',
  wsd: 'http://schemas.xmlsoap.org/ws/2005/04/discovery',
  dn: 'http://www.onvif.org/ver10/network/wsdl',
  tds: 'http://www.onvif.org/ver10/device/wsdl',
  trt: 'http://www.onvif.org/ver10/media/wsdl',
  tt: 'http://www.onvif.org/ver10/schema',
  wsse: 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd',
  wsu: 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd',
} as const;

export const PASSWORD_DIGEST_TYPE = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest';
const BASE64_BINARY = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary';
/** Where WS-Discovery probes go (multicast group and port, WS-Discovery 2005/04). */
export const DISCOVERY_ADDRESS = '239.255.255.250';
export const DISCOVERY_PORT = 3702;
const DISCOVERY_TO = 'urn:schemas-xmlsoap-org:ws:2005:04:discovery';
const PROBE_ACTION = 'http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe';

/** WS-Security UsernameToken digest: base64(sha1(nonce bytes + created + password)). Pure. */
export function passwordDigest(nonce: Buffer, created: string, password: string): string {
  return createHash('sha1')
    .update(Buffer.concat([nonce, Buffer.from(created, 'utf8'), Buffer.from(password, 'utf8')]))
    .digest('base64');
}

export interface Credentials {
  readonly user: string;
  readonly password: string;
}

/** The wsse:Security header with a UsernameToken (password as digest, never in clear). Pure. */
export function securityHeader(creds: Credentials, nonce: Buffer, created: string): string {
  return (
    `<wsse:Security s:mustUnderstand="1" xmlns:wsse="${NS.wsse}" xmlns:wsu="${NS.wsu}"><wsse:UsernameToken>` +
    `<wsse:Username>${escapeXml(creds.user)}</wsse:Username>` +
    `<wsse:Password Type="${PASSWORD_DIGEST_TYPE}">${passwordDigest(nonce, created, creds.password)}</wsse:Password>` +
    `<wsse:Nonce EncodingType="${BASE64_BINARY}">${nonce.toString('base64')}</wsse:Nonce>` +
    `<wsu:Created>${escapeXml(created)}</wsu:Created>` +
    `</wsse:UsernameToken></wsse:Security>`
  );
}

/** A SOAP 1.2 envelope around `body`, with optional header content. Pure. */
export function envelope(body: string, header = ''): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>` +
    `<s:Envelope xmlns:s="${NS.soap}" xmlns:tds="${NS.tds}" xmlns:trt="${NS.trt}" xmlns:tt="${NS.tt}">` +
    (header ? `<s:Header>${header}</s:Header>` : '') +
    `<s:Body>${body}</s:Body></s:Envelope>`
  );
}

/** A WS-Discovery Probe for ONVIF video transmitters. Pure. */
export function probeMessage(messageId: string): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>` +
    `<s:Envelope xmlns:s="${NS.soap}" xmlns:a="${NS.wsa}" xmlns:d="${NS.wsd}" xmlns:dn="${NS.dn}">` +
    `<s:Header><a:MessageID>${escapeXml(messageId)}</a:MessageID><a:To s:mustUnderstand="1">${DISCOVERY_TO}</a:To>` +
    `<a:Action s:mustUnderstand="1">${PROBE_ACTION}</a:Action></s:Header>` +
    `<s:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></s:Body></s:Envelope>`
  );
}

export const requests = {
  getServices: (): string => `<tds:GetServices><tds:IncludeCapability>false</tds:IncludeCapability></tds:GetServices>`,
  getCapabilities: (): string => `<tds:GetCapabilities><tds:Category>Media</tds:Category></tds:GetCapabilities>`,
  getProfiles: (): string => `<trt:GetProfiles/>`,
  getStreamUri: (profileToken: string): string =>
    `<trt:GetStreamUri><trt:StreamSetup><tt:Stream>RTP-Unicast</tt:Stream><tt:Transport><tt:Protocol>RTSP</tt:Protocol></tt:Transport></trt:StreamSetup>` +
    `<trt:ProfileToken>${escapeXml(profileToken)}</trt:ProfileToken></trt:GetStreamUri>`,
  getSnapshotUri: (profileToken: string): string => `<trt:GetSnapshotUri><trt:ProfileToken>${escapeXml(profileToken)}</trt:ProfileToken></trt:GetSnapshotUri>`,
} as const;

/** The SOAP action of a request body (its first element's local name) for the Content-Type header. */
export function actionOf(body: string): string {
  const name = /^<\w+:(\w+)/.exec(body)?.[1] ?? '';
  return `${body.startsWith('<tds:') ? NS.tds : NS.trt}/${name}`;
}

// ---------------------------------------------------------------------------------------------

export interface ProbeMatch {
  /** The device's stable id (`urn:uuid:...`). */
  readonly address: string;
  /** Device service URLs (http://host/onvif/device_service). */
  readonly xaddrs: readonly string[];
  readonly scopes: readonly string[];
  readonly types: readonly string[];
  /** The MessageID of the probe this answers. */
  readonly relatesTo: string | undefined;
}

const words = (s: string | undefined): string[] => (s ?? '').split(/\s+/).filter(Boolean);

/** The matches in a ProbeMatches message (none when it is something else). Throws XmlError on bad XML. */
export function parseProbeMatches(xml: string): ProbeMatch[] {
  const root = parseXml(xml);
  const relatesTo = textAt(root, 'Header', 'RelatesTo');
  return findAll(root, 'ProbeMatch').flatMap((m) => {
    const address = textAt(m, 'EndpointReference', 'Address');
    const xaddrs = words(textAt(m, 'XAddrs'));
    if (!address && xaddrs.length === 0) return [];
    return [{ address: address ?? xaddrs[0], xaddrs, scopes: words(textAt(m, 'Scopes')), types: words(textAt(m, 'Types')), relatesTo }];
  });
}

/** The MessageID and whether it is a Probe (for a device answering probes). */
export function parseProbe(xml: string): { readonly messageId: string | undefined; readonly isProbe: boolean } {
  const root = parseXml(xml);
  return { messageId: textAt(root, 'Header', 'MessageID'), isProbe: find(root, 'Body', 'Probe') !== undefined };
}

/** A readable value of an `onvif://www.onvif.org/<kind>/<value>` scope (name, hardware, location). */
export function scopeValue(scopes: readonly string[], kind: string): string | undefined {
  const prefix = `onvif://www.onvif.org/${kind}/`;
  const s = scopes.find((x) => x.startsWith(prefix));
  if (s === undefined) return undefined;
  try {
    return decodeURIComponent(s.slice(prefix.length));
  } catch {
    return s.slice(prefix.length);
  }
}

export interface SoapFault {
  readonly code: string;
  /** `NotAuthorized` and the like: the last subcode's local name. */
  readonly subcode: string | undefined;
  readonly reason: string;
}

const local = (q: string | undefined): string | undefined => (q === undefined ? undefined : q.slice(q.indexOf(':') + 1));

/** The fault of a SOAP answer, or undefined when it is not one. */
export function parseFault(root: XmlElement): SoapFault | undefined {
  const fault = find(root, 'Body', 'Fault');
  if (!fault) return undefined;
  const codes = findAll(fault, 'Value').map((v) => v.text.trim());
  return {
    code: local(codes[0]) ?? local(textAt(fault, 'faultcode')) ?? 'Fault',
    subcode: codes.length > 1 ? local(codes.at(-1)) : undefined,
    reason: textAt(fault, 'Reason', 'Text') ?? textAt(fault, 'faultstring') ?? '',
  };
}

/** The media service URL from GetServices (Media 1 namespace), or undefined. */
export function parseServicesMediaXAddr(root: XmlElement): string | undefined {
  for (const s of findAll(root, 'Service')) if (textAt(s, 'Namespace') === NS.trt) return textAt(s, 'XAddr');
  return undefined;
}

/** The media service URL from GetCapabilities, or undefined. */
export function parseCapabilitiesMediaXAddr(root: XmlElement): string | undefined {
  return textAt(root, 'Capabilities', 'Media', 'XAddr');
}

export interface MediaProfile {
  readonly token: string;
  readonly name: string;
  readonly encoding?: string | undefined;
  readonly width?: number | undefined;
  readonly height?: number | undefined;
  readonly fps?: number | undefined;
}

const num = (s: string | undefined): number | undefined => {
  const n = s === undefined ? NaN : Number(s);
  return Number.isFinite(n) ? n : undefined;
};

/** The profiles of a GetProfiles answer. */
export function parseProfiles(root: XmlElement): MediaProfile[] {
  return findAll(root, 'Profiles').flatMap((p) => {
    const token = p.attrs.token;
    if (!token) return [];
    const enc = find(p, 'VideoEncoderConfiguration');
    return [
      {
        token,
        name: textAt(p, 'Name') ?? token,
        encoding: enc && textAt(enc, 'Encoding'),
        width: enc && num(textAt(enc, 'Resolution', 'Width')),
        height: enc && num(textAt(enc, 'Resolution', 'Height')),
        fps: enc && num(textAt(enc, 'RateControl', 'FrameRateLimit')),
      },
    ];
  });
}

/** The URI of a GetStreamUri / GetSnapshotUri answer. */
export function parseMediaUri(root: XmlElement): string | undefined {
  return textAt(root, 'MediaUri', 'Uri');
}

/** The UsernameToken of a request (for a device checking it). */
export function parseUsernameToken(root: XmlElement): { user: string; digest: string; nonce: Buffer; created: string; type: string | undefined } | undefined {
  const tok = find(root, 'Header', 'Security', 'UsernameToken');
  if (!tok) return undefined;
  const pw = find(tok, 'Password');
  return { user: textAt(tok, 'Username') ?? '', digest: pw?.text.trim() ?? '', nonce: Buffer.from(textAt(tok, 'Nonce') ?? '', 'base64'), created: textAt(tok, 'Created') ?? '', type: pw?.attrs.Type };
}
