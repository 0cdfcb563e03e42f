/**
 * An ONVIF camera for tests, on this machine: a WS-Discovery responder (UDP: a port on 127.0.0.1
 * for directed probes, or 3702 in the multicast group inside a test's own network namespace) and
 * the device and media SOAP services over HTTP on 127.0.0.1. It checks the WS-Security
 * UsernameToken for real (the password digest recomputed from nonce + created + password, the
 * time within 5 minutes) and answers GetServices, GetCapabilities, GetProfiles, GetStreamUri
 * (the RTSP URL it is given: a real test camera's) and GetSnapshotUri. It keeps every request it
 * saw so a test can check that no password travelled in clear.
 */
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { soap } from '../../src/onvif/index.ts';
import { escapeXml, find, parseXml } from '../../src/onvif/xml.ts';

const { NS, passwordDigest, parseProbe, parseUsernameToken, PASSWORD_DIGEST_TYPE } = soap;

export interface OnvifDeviceOptions {
  readonly user: string;
  readonly password: string;
  /** What GetStreamUri answers for the main profile (sub profile: the same with `?sub`). */
  readonly rtspUrl: string;
  /** UDP: `directed` = 127.0.0.1, an ephemeral port; `multicast` = 0.0.0.0:3702 in 239.255.255.250. */
  readonly discovery: 'directed' | 'multicast';
  readonly name?: string;
  /** Answer GetServices with a fault (an older device: the client must ask GetCapabilities). */
  readonly noGetServices?: boolean;
}

export interface OnvifTestDevice {
  /** The UDP port probes go to. */
  readonly discoveryPort: number;
  readonly deviceUrl: string;
  readonly address: string;
  /** Every SOAP request body, in order. */
  readonly requests: string[];
  /** The operations answered and refused (auth). */
  readonly log: Array<{ op: string; ok: boolean }>;
  readonly probes: number;
  close(): Promise<void>;
}

const envelope = (body: string, header = ''): string =>
  `<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="${NS.soap}" xmlns:tds="${NS.tds}" xmlns:trt="${NS.trt}" xmlns:tt="${NS.tt}" xmlns:ter="http://www.onvif.org/ver10/error" xmlns:wsa="${NS.wsa}" xmlns:d="${NS.wsd}" xmlns:dn="${NS.dn}">` +
  (header ? `<env:Header>${header}</env:Header>` : '') +
  `<env:Body>${body}</env:Body></env:Envelope>`;

const fault = (subcode: string, reason: string): string =>
  envelope(`<env:Fault><env:Code><env:Value>env:Sender</env:Value><env:Subcode><env:Value>ter:${subcode}</env:Value></env:Subcode></env:Code><env:Reason><env:Text xml:lang="en">${escapeXml(reason)}</env:Text></env:Reason></env:Fault>`);

export async function startOnvifDevice(o: OnvifDeviceOptions): Promise<OnvifTestDevice> {
  const requests: string[] = [];
  const log: Array<{ op: string; ok: boolean }> = [];
  const address = `urn:uuid:5f0e3c2a-0000-4000-8000-${String(Math.floor(Math.random() * 1e12)).padStart(12, '0')}`;
  let probes = 0;
  let base = '';

  const authorized = (root: ReturnType<typeof parseXml>): boolean => {
    const tok = parseUsernameToken(root);
    if (!tok || tok.user !== o.user || tok.type !== PASSWORD_DIGEST_TYPE) return false;
    const created = Date.parse(tok.created);
    if (!Number.isFinite(created) || Math.abs(Date.now() - created) > 5 * 60_000) return false;
    return tok.nonce.length > 0 && tok.digest === passwordDigest(tok.nonce, tok.created, o.password);
  };

  const answer = (op: string, root: ReturnType<typeof parseXml>): string | undefined => {
    const token = find(root, 'Body', op, 'ProfileToken')?.text.trim();
    switch (op) {
      case 'GetServices':
        if (o.noGetServices) return undefined;
        return `<tds:GetServicesResponse><tds:Service><tds:Namespace>${NS.tds}</tds:Namespace><tds:XAddr>${base}/onvif/device_service</tds:XAddr><tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service><tds:Service><tds:Namespace>${NS.trt}</tds:Namespace><tds:XAddr>${base}/onvif/media_service</tds:XAddr><tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service></tds:GetServicesResponse>`;
      case 'GetCapabilities':
        return `<tds:GetCapabilitiesResponse><tds:Capabilities><tt:Media><tt:XAddr>${base}/onvif/media_service</tt:XAddr></tt:Media></tds:Capabilities></tds:GetCapabilitiesResponse>`;
      case 'GetProfiles': {
        const profile = (tok: string, name: string, w: number, h: number, fps: number) =>
          `<trt:Profiles token="${tok}" fixed="true"><tt:Name>${name}</tt:Name><tt:VideoEncoderConfiguration token="enc_${tok}"><tt:Name>enc</tt:Name><tt:Encoding>H264</tt:Encoding><tt:Resolution><tt:Width>${w}</tt:Width><tt:Height>${h}</tt:Height></tt:Resolution><tt:RateControl><tt:FrameRateLimit>${fps}</tt:FrameRateLimit><tt:BitrateLimit>512</tt:BitrateLimit></tt:RateControl></tt:VideoEncoderConfiguration></trt:Profiles>`;
        return `<trt:GetProfilesResponse>${profile('main', 'MainStream', 160, 120, 5)}${profile('sub', 'SubStream', 80, 60, 5)}</trt:GetProfilesResponse>`;
      }
      case 'GetStreamUri': {
        if (token !== 'main' && token !== 'sub') return undefined;
        const uri = token === 'main' ? o.rtspUrl : `${o.rtspUrl}?sub`;
        return `<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>${escapeXml(uri)}</tt:Uri><tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout></trt:MediaUri></trt:GetStreamUriResponse>`;
      }
      case 'GetSnapshotUri':
        if (token !== 'main') return undefined; // the sub profile has no snapshot: a fault
        return `<trt:GetSnapshotUriResponse><trt:MediaUri><tt:Uri>${base}/snapshot/main.jpg</tt:Uri></trt:MediaUri></trt:GetSnapshotUriResponse>`;
      default:
        return undefined;
    }
  };

  const http: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      requests.push(text);
      const send = (status: number, xml: string) => {
        res.writeHead(status, { 'content-type': 'application/soap+xml; charset=utf-8' });
        res.end(xml);
      };
      let root;
      try {
        root = parseXml(text);
      } catch {
        return send(400, fault('InvalidArgVal', 'not XML'));
      }
      const op = find(root, 'Body')?.children[0]?.name ?? '';
      if (!authorized(root)) {
        log.push({ op, ok: false });
        return send(400, fault('NotAuthorized', 'Sender not Authorized'));
      }
      const body = answer(op, root);
      log.push({ op, ok: body !== undefined });
      if (body === undefined) return send(400, fault('ActionNotSupported', `${op} is not supported here`));
      send(200, envelope(body));
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;

  const udp: Socket = createSocket({ type: 'udp4', reuseAddr: true });
  udp.on('message', (msg, rinfo) => {
    let probe;
    try {
      probe = parseProbe(msg.toString('utf8'));
    } catch {
      return;
    }
    if (!probe.isProbe) return;
    probes++;
    const header = `<wsa:MessageID>uuid:${crypto.randomUUID()}</wsa:MessageID><wsa:RelatesTo>${escapeXml(probe.messageId ?? '')}</wsa:RelatesTo><wsa:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:To><wsa:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</wsa:Action>`;
    const scopes = [`onvif://www.onvif.org/name/${encodeURIComponent(o.name ?? 'Test Door')}`, 'onvif://www.onvif.org/hardware/FG-TEST-1', 'onvif://www.onvif.org/type/video_encoder'].join(' ');
    const body = `<d:ProbeMatches><d:ProbeMatch><wsa:EndpointReference><wsa:Address>${address}</wsa:Address></wsa:EndpointReference><d:Types>dn:NetworkVideoTransmitter</d:Types><d:Scopes>${scopes}</d:Scopes><d:XAddrs>${base}/onvif/device_service</d:XAddrs><d:MetadataVersion>1</d:MetadataVersion></d:ProbeMatch></d:ProbeMatches>`;
    udp.send(Buffer.from(envelope(body, header)), rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve, reject) => {
    udp.once('error', reject);
    if (o.discovery === 'directed') udp.bind(0, '127.0.0.1', () => resolve());
    else
      udp.bind(soap.DISCOVERY_PORT, '0.0.0.0', () => {
        udp.addMembership(soap.DISCOVERY_ADDRESS, '127.0.0.1');
        resolve();
      });
  });

  return {
    discoveryPort: (udp.address() as AddressInfo).port,
    deviceUrl: `${base}/onvif/device_service`,
    address,
    requests,
    log,
    get probes() {
      return probes;
    },
    close: async () => {
      udp.close();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
