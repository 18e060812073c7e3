import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { sha256Hex } from './sha256';

const reference = (text: string): string => createHash('sha256').update(text).digest('hex');

describe('sha256Hex', () => {
  it("matches FIPS 180-4's examples", () => {
    expect(sha256Hex('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256Hex('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')).toBe(
      '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    );
  });

  it('matches node:crypto at every length around the block boundaries, and on non-ASCII text', () => {
    for (let n = 0; n <= 300; n++) {
      const ascii = randomBytes(n).toString('base64').slice(0, n);
      expect(sha256Hex(ascii), `length ${n}`).toBe(reference(ascii));
    }
    for (const text of ['é', '日本語のスコープ', '🔑'.repeat(40), 'https://ims-na1.adobelogin.com\nabc\nAdobeID,openid']) {
      expect(sha256Hex(text)).toBe(reference(text));
    }
  });
});
