import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

// X-Runledger-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">
// (docs/webhooks.md shows how to verify it in Node, Python and shell).
export const SIGNATURE_HEADER = 'X-Runledger-Signature';
export const DELIVERY_HEADER = 'X-Runledger-Delivery';
export const EVENT_HEADER = 'X-Runledger-Event';

export const generateSecret = () => `whsec_${randomBytes(24).toString('base64url')}`;

export function sign(secret: string, body: string, t: number): string {
  const v1 = createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
  return `t=${t},v1=${v1}`;
}

// Checks a signature header against the raw body; `toleranceSeconds` bounds
// replays of an old delivery.
export function verify(secret: string, body: string, header: string, nowSeconds: number, toleranceSeconds = 300): boolean {
  const parts = Object.fromEntries(header.split(',').map((p) => p.split('=', 2) as [string, string]));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || Math.abs(nowSeconds - t) > toleranceSeconds || !parts.v1) return false;
  const expected = Buffer.from(sign(secret, body, t).split('v1=')[1]!, 'hex');
  const given = Buffer.from(parts.v1, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
