import t from 'tap';
import { contactReading, isRexPress, payloadValue } from '../../src/doors/index.ts';

t.test('plain payloads: Home Assistant binary sensor ON/OFF', async (t) => {
  const rule = { open: 'ON', closed: 'OFF' };
  t.equal(contactReading(rule, Buffer.from('ON')), true);
  t.equal(contactReading(rule, 'OFF'), false);
  t.equal(contactReading(rule, ' ON\n'), true, 'surrounding white space ignored');
  t.equal(contactReading(rule, 'on'), undefined, 'case matters (HA publishes upper case)');
  t.equal(contactReading(rule, 'unavailable'), undefined);
  t.equal(contactReading(rule, ''), undefined);
});

t.test('JSON field: zigbee2mqtt contact (true = closed) and action', async (t) => {
  const rule = { field: 'contact', open: 'false', closed: 'true' };
  t.equal(contactReading(rule, '{"battery":97,"contact":false,"linkquality":120}'), true);
  t.equal(contactReading(rule, '{"contact":true}'), false);
  t.equal(contactReading(rule, '{"battery":97}'), undefined, 'a message without the key');
  t.equal(contactReading(rule, 'not json'), undefined);
  t.equal(contactReading(rule, '[true]'), undefined);
  t.equal(contactReading(rule, '{"contact":{"x":1}}'), undefined, 'objects do not compare');
  t.equal(payloadValue('{"n":1}', 'n'), '1');
  t.equal(payloadValue('{"__proto__":"x"}', 'toString'), undefined, 'inherited keys are not fields');
  t.ok(isRexPress({ field: 'action', press: 'single' }, '{"action":"single"}'));
  t.notOk(isRexPress({ field: 'action', press: 'single' }, '{"action":"double"}'));
  t.ok(isRexPress({ press: 'ON' }, 'ON'));
  t.notOk(isRexPress({ press: 'ON' }, 'OFF'));
});
