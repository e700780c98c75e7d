import { createHmac, timingSafeEqual } from 'node:crypto';

// Artifact files are served by the API at /artifacts/<key>?expires=<unix s>&token=<hmac>:
// an HMAC-SHA256 over the key and the expiry, so a URL cannot be altered or
// extended. Expired or altered → 403.
export const ARTIFACT_URL_PREFIX = '/artifacts/';

const tokenOf = (secret: string, key: string, expires: number) =>
  createHmac('sha256', secret).update(`GET\n${key}\n${expires}`).digest('base64url');

export function signArtifactUrl(base: string, secret: string, key: string, ttlSeconds: number, now = Date.now()): { url: string; expiresAt: string } {
  const expires = Math.floor(now / 1000) + ttlSeconds;
  const url = `${base}${ARTIFACT_URL_PREFIX}${key}?expires=${expires}&token=${tokenOf(secret, key, expires)}`;
  return { url, expiresAt: new Date(expires * 1000).toISOString() };
}

export type Verdict = { ok: true } | { ok: false; reason: 'expired' | 'invalid_signature' };

export function verifyArtifactUrl(secret: string, key: string, expires: unknown, token: unknown, now = Date.now()): Verdict {
  if (typeof expires !== 'string' || !/^\d{1,12}$/.test(expires) || typeof token !== 'string') return { ok: false, reason: 'invalid_signature' };
  const expected = Buffer.from(tokenOf(secret, key, Number(expires)));
  const given = Buffer.from(token);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'invalid_signature' };
  if (Number(expires) * 1000 <= now) return { ok: false, reason: 'expired' };
  return { ok: true };
}
