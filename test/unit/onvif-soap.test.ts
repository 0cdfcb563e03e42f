import t from 'tap';
import { parseProbeTarget, pickXAddr, soap } from '../../src/onvif/index.ts';
import { decodeEntities, escapeXml, find, findAll, parseXml, textAt, XmlError } from '../../src/onvif/xml.ts';

t.test('xml: prefixes dropped, attributes, entities, CDATA, comments', async (t) => {
  const root = parseXml(`<?xml version="1.0"?><!-- c --><a:Root xmlns:a="urn:x" b:attr='1 &amp; 2'><a:Item token="t1">x &lt;y&gt; &#65;&#x42;</a:Item><Item token="t2"/><c:Wrap><Item><![CDATA[<raw>]]></Item></c:Wrap></a:Root>`);
  t.equal(root.name, 'Root');
  t.same(root.attrs, { attr: '1 & 2' });
  t.same(
    findAll(root, 'Item').map((i) => i.attrs.token ?? i.text),
    ['t1', 't2', '<raw>'],
  );
  t.equal(find(root, 'Item')?.text, 'x <y> AB');
  t.equal(textAt(root, 'Wrap', 'Item'), '<raw>');
  t.equal(textAt(root, 'Nope'), undefined);
  for (const bad of ['<a><b></a>', '<a>', 'text', '<a></a><b></b>', '<a attr="x></a>', '']) t.throws(() => parseXml(bad), XmlError, `refuses ${JSON.stringify(bad)}`);
  const deep = '<a>'.repeat(100) + '</a>'.repeat(100);
  t.throws(() => parseXml(deep), /deeper/);
  t.equal(decodeEntities(escapeXml(`<"it's" & >`)), `<"it's" & >`);
});

t.test('UsernameToken digest: the ONVIF programmer guide example', async (t) => {
  // base64(sha1(nonce + created + password)) with the guide's published values.
  t.equal(soap.passwordDigest(Buffer.from('LKqI6G/AikKCQrN0zqZFlg==', 'base64'), '2010-09-16T07:50:45Z', 'userpassword'), 'tuOSpGlFlIXsozq4HFNeeGeFLEI=');
  const nonce = Buffer.alloc(16, 7);
  const header = soap.securityHeader({ user: 'admin', password: 'pa<ss' }, nonce, '2026-01-02T03:04:05Z');
  t.notOk(header.includes('pa<ss') || header.includes('pa&lt;ss'), 'the password is never in the message');
  const root = parseXml(soap.envelope(soap.requests.getProfiles(), header));
  const tok = soap.parseUsernameToken(root);
  t.equal(tok?.user, 'admin');
  t.equal(tok?.created, '2026-01-02T03:04:05Z');
  t.same(tok?.nonce, nonce);
  t.equal(tok?.type, soap.PASSWORD_DIGEST_TYPE);
  t.equal(tok?.digest, soap.passwordDigest(nonce, '2026-01-02T03:04:05Z', 'pa<ss'));
  t.ok(find(root, 'Body', 'GetProfiles'));
});

t.test('probe and probe matches', async (t) => {
  const probe = soap.probeMessage('uuid:1234');
  t.same(soap.parseProbe(probe), { messageId: 'uuid:1234', isProbe: true });
  t.match(probe, /<d:Types>dn:NetworkVideoTransmitter<\/d:Types>/);
  const matches = soap.parseProbeMatches(`<?xml version="1.0"?>
<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery">
  <SOAP-ENV:Header><wsa:RelatesTo>uuid:1234</wsa:RelatesTo></SOAP-ENV:Header>
  <SOAP-ENV:Body><d:ProbeMatches><d:ProbeMatch>
    <wsa:EndpointReference><wsa:Address>urn:uuid:abc</wsa:Address></wsa:EndpointReference>
    <d:Types>dn:NetworkVideoTransmitter tds:Device</d:Types>
    <d:Scopes>onvif://www.onvif.org/name/Front%20Door onvif://www.onvif.org/hardware/IPC-1</d:Scopes>
    <d:XAddrs>http://192.0.2.10/onvif/device_service http://[fe80::1]/onvif/device_service</d:XAddrs>
  </d:ProbeMatch></d:ProbeMatches></SOAP-ENV:Body></SOAP-ENV:Envelope>`);
  t.equal(matches.length, 1);
  const m = matches[0];
  t.equal(m.address, 'urn:uuid:abc');
  t.equal(m.relatesTo, 'uuid:1234');
  t.equal(m.xaddrs.length, 2);
  t.equal(soap.scopeValue(m.scopes, 'name'), 'Front Door');
  t.equal(soap.scopeValue(m.scopes, 'hardware'), 'IPC-1');
  t.equal(soap.scopeValue(m.scopes, 'location'), undefined);
  t.equal(pickXAddr({ xaddrs: ['urn:x', 'http://h/onvif/device_service'] }), 'http://h/onvif/device_service');
  t.same(soap.parseProbeMatches('<a/>'), [], 'not a ProbeMatches: none');
});

t.test('media answers and faults', async (t) => {
  const env = (body: string) => parseXml(`<s:Envelope xmlns:s="${soap.NS.soap}"><s:Body>${body}</s:Body></s:Envelope>`);
  t.equal(soap.parseServicesMediaXAddr(env(`<tds:GetServicesResponse><tds:Service><tds:Namespace>${soap.NS.tds}</tds:Namespace><tds:XAddr>http://h/dev</tds:XAddr></tds:Service><tds:Service><tds:Namespace>${soap.NS.trt}</tds:Namespace><tds:XAddr>http://h/media</tds:XAddr></tds:Service></tds:GetServicesResponse>`)), 'http://h/media');
  t.equal(soap.parseCapabilitiesMediaXAddr(env(`<r><tds:Capabilities><tt:Media><tt:XAddr>http://h/m1</tt:XAddr></tt:Media></tds:Capabilities></r>`)), 'http://h/m1');
  const profiles = soap.parseProfiles(
    env(`<trt:GetProfilesResponse><trt:Profiles token="p0" fixed="true"><tt:Name>Main</tt:Name><tt:VideoEncoderConfiguration><tt:Encoding>H264</tt:Encoding><tt:Resolution><tt:Width>1920</tt:Width><tt:Height>1080</tt:Height></tt:Resolution><tt:RateControl><tt:FrameRateLimit>25</tt:FrameRateLimit></tt:RateControl></tt:VideoEncoderConfiguration></trt:Profiles><trt:Profiles token="p1"/></trt:GetProfilesResponse>`),
  );
  t.same(profiles, [
    { token: 'p0', name: 'Main', encoding: 'H264', width: 1920, height: 1080, fps: 25 },
    { token: 'p1', name: 'p1', encoding: undefined, width: undefined, height: undefined, fps: undefined },
  ]);
  t.equal(soap.parseMediaUri(env(`<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>rtsp://h:554/a?b=1&amp;c=2</tt:Uri></trt:MediaUri></trt:GetStreamUriResponse>`)), 'rtsp://h:554/a?b=1&c=2');
  t.same(soap.parseFault(env(`<s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>ter:NotAuthorized</s:Value></s:Subcode></s:Code><s:Reason><s:Text>Sender not Authorized</s:Text></s:Reason></s:Fault>`)), { code: 'Sender', subcode: 'NotAuthorized', reason: 'Sender not Authorized' });
  t.equal(soap.parseFault(env('<ok/>')), undefined);
  t.match(soap.requests.getStreamUri('a&b'), /<trt:ProfileToken>a&amp;b<\/trt:ProfileToken>/);
  t.equal(soap.actionOf(soap.requests.getServices()), `${soap.NS.tds}/GetServices`);
  t.equal(soap.actionOf(soap.requests.getSnapshotUri('x')), `${soap.NS.trt}/GetSnapshotUri`);
});

t.test('probe targets', async (t) => {
  t.same(parseProbeTarget('192.0.2.10'), { host: '192.0.2.10', port: 3702 });
  t.same(parseProbeTarget('cam.local:4000'), { host: 'cam.local', port: 4000 });
  t.same(parseProbeTarget('[fe80::1]:3702'), { host: 'fe80::1', port: 3702 });
  t.throws(() => parseProbeTarget('h:0'));
  t.throws(() => parseProbeTarget('a:b:c'));
});
