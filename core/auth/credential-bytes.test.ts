import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { credentialBytes, hashCredential } from './credential-bytes.ts';
import { hashClientToken } from './token.ts';

/** A header value as Node hands it over: the bytes on the wire, one character each. */
const fromWire = (bytes: Buffer) => bytes.toString('latin1');

describe('credentialBytes', () => {
  it('takes a string of characters up to U+00FF as the bytes off the wire, one byte per character', () => {
    const sent = Buffer.from('pässwörd-ü', 'utf8');
    expect(credentialBytes(fromWire(sent))).toEqual(sent);
    expect(credentialBytes(fromWire(Buffer.from([0xff, 0x00, 0x80, 0xa0])))).toEqual(
      Buffer.from([0xff, 0x00, 0x80, 0xa0]),
    );
    expect(credentialBytes('ascii-token=')).toEqual(Buffer.from('ascii-token='));
  });

  it('takes a string with any character above U+00FF as decoded text, and gives its UTF-8 bytes', () => {
    expect(credentialBytes('秘密の鍵')).toEqual(Buffer.from('秘密の鍵', 'utf8'));
    expect(credentialBytes('🔑🚪')).toEqual(Buffer.from([0xf0, 0x9f, 0x94, 0x91, 0xf0, 0x9f, 0x9a, 0xaa]));
    // The whole string is text, including its characters below U+0100.
    expect(credentialBytes('ä秘')).toEqual(Buffer.from('ä秘', 'utf8'));
  });

  it('never lets two different credentials collide the way truncating to Latin-1 would', () => {
    // U+0161 and U+0061 have the same low byte; Buffer.from(…, 'latin1') makes them both 0x61.
    expect(Buffer.from('š', 'latin1')).toEqual(Buffer.from('a', 'latin1'));
    expect(credentialBytes('š')).not.toEqual(credentialBytes('a'));
    expect(hashClientToken(credentialBytes('秘密'))).not.toBe(
      hashClientToken(credentialBytes(Buffer.from('秘密', 'latin1').toString('latin1'))),
    );
  });
});

describe('hashClientToken of a request’s credential', () => {
  it('equals Flipt’s hash of the configured value’s UTF-8 bytes when the client sent those bytes', () => {
    for (const text of ['pässwörd-ü', 'voilà', '秘密の鍵', '🔑🚪', 's3cr3t']) {
      const flipt = `${createHash('sha256').update(Buffer.from(text, 'utf8')).digest('base64url')}=`;
      expect(hashClientToken(text), text).toBe(flipt);
      expect(hashClientToken(credentialBytes(fromWire(Buffer.from(text, 'utf8')))), text).toBe(flipt);
    }
    // The same letters sent as Latin-1 are other bytes, so another credential.
    expect(hashClientToken(credentialBytes(fromWire(Buffer.from('pässwörd-ü', 'latin1'))))).not.toBe(
      hashClientToken('pässwörd-ü'),
    );
  });
});

describe('hashCredential', () => {
  it('is hashClientToken(credentialBytes(value)) for every string: ASCII, Latin-1 bytes off the wire, and text', () => {
    for (const value of [
      '',
      's3cr3t',
      'ascii-token=',
      '\x7f',
      '\x80',
      'pässwörd',
      '\xff\x00',
      '秘密',
      '🔑',
      'a\ud800',
    ]) {
      expect(hashCredential(value), JSON.stringify(value)).toBe(hashClientToken(credentialBytes(value)));
    }
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' })),
        (value) => {
          expect(hashCredential(value)).toBe(hashClientToken(credentialBytes(value)));
        },
      ),
      { numRuns: 2000 },
    );
  });
});
