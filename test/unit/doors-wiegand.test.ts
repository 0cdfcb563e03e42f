import t from 'tap';
import { DoorError, decodeWiegand, wiegandBitString, wiegandBits, wiegandValue } from '../../src/doors/index.ts';

// Published example frames, each checked here bit for bit:
// - Allegion knowledge base, "How are the even parity bit and odd parity bit calculated in the 26A
//   format" (kc.allegion.com/kb/article/how-are-the-even-parity-bit-and-odd-parity-bit-calculated-in-the-26a-format):
//   facility 01100101 (101), card 4095 -> 0 01100101 0000111111111111 1.
// - r/AskElectronics "RFID - How do I convert 26 bit Wiegand to Dec?" (a reader's hex output
//   0x21a6616 for facility 13, card 13067, parity bits checked in the answer).
// - CIVINTEC CN56X0B-X reader user manual, 6.4.2 / 6.4.5: Wiegand26 data D4 1B 81 ->
//   1 11010100 00011011 10000001 0; Wiegand34 data 89 D4 1B 81 -> 1 10001001 11010100 00011011 10000001 1.
t.test('26-bit frames match published examples', async (t) => {
  t.equal(wiegandBitString('wiegand26', { facilityCode: 101, cardNumber: 4095 }), '00110010100001111111111111', 'Allegion 26A example');
  t.equal(wiegandValue('wiegand26', { facilityCode: 13, cardNumber: 13067 }), 0x21a6616n, 'AskElectronics example (hex of the raw frame)');
  t.equal(wiegandBitString('wiegand26', { facilityCode: 0xd4, cardNumber: 0x1b81 }), '1' + '11010100' + '0001101110000001' + '0', 'CIVINTEC manual example');
});

t.test('34-bit frames match the published example', async (t) => {
  t.equal(wiegandBitString('wiegand34', { facilityCode: 0x89d4, cardNumber: 0x1b81 }), '1' + '1000100111010100' + '0001101110000001' + '1', 'CIVINTEC manual example');
  t.equal(wiegandBits('wiegand34', { facilityCode: 0x89d4, cardNumber: 0x1b81 }).length, 34);
});

t.test('parity bits: even over the first half, odd over the second', async (t) => {
  // All-zero data: the even bit stays 0, the odd bit must be 1.
  t.equal(wiegandBitString('wiegand26', { facilityCode: 0, cardNumber: 0 }), '0' + '0'.repeat(24) + '1');
  // All ones: 12 ones in each half -> even bit 0, odd bit 1.
  t.equal(wiegandBitString('wiegand26', { facilityCode: 255, cardNumber: 65535 }), '0' + '1'.repeat(24) + '1');
  // Facility 1 card 1: one 1 in each half -> even bit 1, odd bit 0.
  t.equal(wiegandBitString('wiegand26', { facilityCode: 1, cardNumber: 1 }), '1' + '00000001' + '0000000000000001' + '0');
  t.equal(wiegandBitString('wiegand34', { facilityCode: 1, cardNumber: 1 }), '1' + '0000000000000001' + '0000000000000001' + '0');
});

t.test('decode: round trip and parity check', async (t) => {
  for (const [format, fc, cn] of [['wiegand26', 101, 4095], ['wiegand26', 0, 0], ['wiegand34', 65535, 65535], ['wiegand34', 1234, 56789]] as const) {
    const bits = wiegandBitString(format, { facilityCode: fc, cardNumber: cn });
    t.same(decodeWiegand(bits), { format, facilityCode: fc, cardNumber: cn }, `${format} ${fc}/${cn}`);
  }
  const good = wiegandBitString('wiegand26', { facilityCode: 101, cardNumber: 4095 });
  for (let i = 0; i < good.length; i++) {
    const flipped = good.slice(0, i) + (good[i] === '1' ? '0' : '1') + good.slice(i + 1);
    t.throws(() => decodeWiegand(flipped), { code: 'DOOR_FRAME_INVALID' }, `one flipped bit at ${i} is caught`);
  }
  t.throws(() => decodeWiegand('0101'), { code: 'DOOR_FRAME_INVALID' });
  t.throws(() => decodeWiegand('2'.repeat(26)), { code: 'DOOR_FRAME_INVALID' });
});

t.test('values that do not fit are typed errors with a fix', async (t) => {
  t.throws(() => wiegandBits('wiegand26', { facilityCode: 256, cardNumber: 1 }), DoorError);
  t.throws(() => wiegandBits('wiegand26', { facilityCode: 256, cardNumber: 1 }), { code: 'DOOR_CREDENTIAL_INVALID', hint: /wiegand34/ });
  t.throws(() => wiegandBits('wiegand26', { facilityCode: 1, cardNumber: 65536 }), { code: 'DOOR_CREDENTIAL_INVALID', context: { field: 'cardNumber', max: 65535 } });
  t.throws(() => wiegandBits('wiegand34', { facilityCode: -1, cardNumber: 1 }), { code: 'DOOR_CREDENTIAL_INVALID' });
  t.throws(() => wiegandBits('wiegand34', { facilityCode: 1.5, cardNumber: 1 }), { code: 'DOOR_CREDENTIAL_INVALID' });
});
