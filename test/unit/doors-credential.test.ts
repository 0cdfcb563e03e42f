import t, { type Test } from 'tap';
import { parseConfig } from '../../src/config/index.ts';
import { CREDENTIAL_KEY, DoorError, credentialArgv, credentialFrame, credentialFromMetadata, credentialPayload, decodeWiegand } from '../../src/doors/index.ts';
import { configError } from '../helpers/config-error.ts';

const invalid = (t: Test, metadata: Record<string, unknown>, field: string, text: RegExp) => {
  const e = t.throws(() => credentialFromMetadata(metadata)) as unknown;
  t.ok(e instanceof DoorError, 'a DoorError');
  t.match(e, { code: 'DOOR_CREDENTIAL_INVALID', context: { field }, message: text }, `${field}: ${String((e as Error).message)}`);
  t.ok((e as DoorError).hint, 'with a fix');
};

t.test('a credential in identity metadata', async (t) => {
  t.equal(credentialFromMetadata(undefined), undefined, 'no metadata: none');
  t.equal(credentialFromMetadata({ badge: 'x' }), undefined, 'no credential key: none');
  t.same(credentialFromMetadata({ [CREDENTIAL_KEY]: { number: 4095, facilityCode: 101, format: 'wiegand26' } }), { format: 'wiegand26', facilityCode: 101, number: 4095 });
  t.same(credentialFromMetadata({ credential: { number: 65535, facilityCode: 65535, format: 'wiegand34' } }), { format: 'wiegand34', facilityCode: 65535, number: 65535 }, 'the edges of 34-bit');
  t.same(credentialFromMetadata({ credential: { number: 0, facilityCode: 0, format: 'wiegand26' } }), { format: 'wiegand26', facilityCode: 0, number: 0 }, 'zero is a number');
});

t.test('an invalid credential names the field and the range', async (t) => {
  invalid(t, { credential: { number: 65536, facilityCode: 1, format: 'wiegand26' } }, 'credential.number', /credential\.number: 65536 is out of range for wiegand26 \(0-65535\)/);
  invalid(t, { credential: { number: 1, facilityCode: 256, format: 'wiegand26' } }, 'credential.facilityCode', /out of range for wiegand26 \(0-255\)/);
  invalid(t, { credential: { number: 1, facilityCode: 70000, format: 'wiegand34' } }, 'credential.facilityCode', /70000 is out of range for wiegand34 \(0-65535\)/);
  invalid(t, { credential: { number: -1, facilityCode: 1, format: 'wiegand34' } }, 'credential.number', /-1 is out of range/);
  invalid(t, { credential: { number: 1.5, facilityCode: 1, format: 'wiegand26' } }, 'credential.number', /1\.5 is out of range/);
  invalid(t, { credential: { number: '12', facilityCode: 1, format: 'wiegand26' } }, 'credential.number', /"12" is out of range/);
  invalid(t, { credential: { facilityCode: 1, format: 'wiegand26' } }, 'credential.number', /null is out of range/);
  invalid(t, { credential: { number: 1, facilityCode: 1, format: 'wiegand37' } }, 'credential.format', /expected one of wiegand26, wiegand34, got "wiegand37"/);
  invalid(t, { credential: { number: 1, facilityCode: 1, format: 'wiegand26', pin: 1234 } }, 'credential.pin', /unknown key/);
  invalid(t, { credential: 'wiegand26:1:2' }, 'credential', /expected an object/);
  const wide = t.throws(() => credentialFromMetadata({ credential: { number: 1, facilityCode: 300, format: 'wiegand26' } })) as DoorError;
  t.match(wide.hint, /wiegand34/, 'a facility code that fits 34-bit says so');
});

t.test('the output payload: the frame as bits and hex', async (t) => {
  // The Allegion 26A example (test/unit/doors-wiegand.test.ts): facility 101, card 4095.
  const frame = credentialFrame({ format: 'wiegand26', facilityCode: 101, number: 4095 });
  t.same(frame, { format: 'wiegand26', bits: '00110010100001111111111111', hex: 'ca1fff', bitLength: 26 });
  // The AskElectronics example: facility 13, card 13067 -> raw frame 0x21a6616.
  t.equal(credentialFrame({ format: 'wiegand26', facilityCode: 13, number: 13067 }).hex, '21a6616');
  const f34 = credentialFrame({ format: 'wiegand34', facilityCode: 0x89d4, number: 0x1b81 });
  t.equal(f34.bits, '1' + '1000100111010100' + '0001101110000001' + '1', 'the CIVINTEC 34-bit example');
  t.same(decodeWiegand(f34.bits), { format: 'wiegand34', facilityCode: 0x89d4, cardNumber: 0x1b81 });
  t.same(JSON.parse(credentialPayload('front', frame, 1234)), { gateId: 'front', format: 'wiegand26', bits: '00110010100001111111111111', hex: 'ca1fff', bitLength: 26, atMs: 1234 });
  t.same(credentialArgv(['wiegand-send', '--bits={bits}', '{hex}', 'plain'], frame), ['wiegand-send', '--bits=00110010100001111111111111', 'ca1fff', 'plain']);
});

// With the events broker on: an MQTT credential output needs it (doors-config tests the refusal).
const withDoor = (door: Record<string, unknown>) => ({
  cameras: [{ id: 'door', url: 'rtsp://192.0.2.1:554/door' }],
  gates: [{ id: 'front', cameras: ['door'], door }],
  events: { outputs: { mqtt: { enabled: true, url: 'mqtt://127.0.0.1:1883' } } },
});

t.test('door.credentialOutput in the config', async (t) => {
  t.same(parseConfig(withDoor({ credentialOutput: { mqtt: 'panel/wiegand' } })).gates[0].door?.credentialOutput, { mqtt: 'panel/wiegand' });
  t.same(parseConfig(withDoor({ credentialOutput: { command: { argv: ['wiegand-send', '{bits}'] } } })).gates[0].door?.credentialOutput, { command: { argv: ['wiegand-send', '{bits}'], timeoutMs: 5000 } });
  const none = configError(() => parseConfig(withDoor({ credentialOutput: {} })));
  t.match(none.issues, [{ message: /needs a target/, hint: /mqtt: TOPIC/ }]);
  const two = configError(() => parseConfig(withDoor({ credentialOutput: { mqtt: 'a/b', command: { argv: ['x', '{bits}'] } } })));
  t.match(two.issues, [{ message: /has 2 targets/ }]);
  const deaf = configError(() => parseConfig(withDoor({ credentialOutput: { command: { argv: ['wiegand-send'] } } })));
  t.match(deaf.issues, [{ message: /never receives the frame/, hint: /\{bits\}/ }]);
  const wild = configError(() => parseConfig(withDoor({ credentialOutput: { mqtt: 'panel/#' } })));
  t.match(wild.issues, [{ message: /wildcards/ }]);
});
