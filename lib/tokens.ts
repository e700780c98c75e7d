import { createHash, randomBytes } from 'node:crypto';

// Secrets handed out once (API keys, invitation tokens): a prefix that says what
// they are, then 40 base62 characters (≈ 238 bits). Only their SHA-256 is stored.
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

export function randomToken(prefix: string): string {
  let s = '';
  for (const b of randomBytes(40)) s += BASE62[b % 62];
  return prefix + s;
}

export const sha256Hex = (value: string) => createHash('sha256').update(value).digest('hex');
