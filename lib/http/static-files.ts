import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Context, Middleware } from 'koa';
import { constants as zlibConstants } from 'node:zlib';
import compress from 'koa-compress';
import { send } from '@koa/send';

// Built front-end files served by the API (docs/dashboard.md "Serving and
// sessions"): the dashboard at /, the Playwright Trace Viewer at /trace/.

export const IMMUTABLE = 'public, max-age=31536000, immutable';
export const REVALIDATE = 'no-cache';

// What the API answers itself: never the dashboard's index.html.
const API_PATH = /^\/(api|health|metrics|openapi\.json|docs|trace|artifacts)(\/|$)/;
export const isApiPath = (path: string) => API_PATH.test(path);

export const wantsHtml = (ctx: Context) => /\btext\/html\b/i.test(ctx.get('accept'));

// gzip or brotli for text (JS, CSS, HTML, SVG, JSON, fonts' kin); files served
// pre-compressed (.br/.gz beside them) already carry Content-Encoding and are left alone.
export const compressText = (): Middleware => compress({
  threshold: 1024,
  // quality 5: most of brotli's gain at a fraction of its default (11) CPU
  br: { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 5 } },
  gzip: { level: 6 },
});

// The security headers of an HTML page: no inline script unless its hash is
// listed, no framing by other sites, no referrer (signed URLs sit in query strings).
export function htmlSecurityHeaders(ctx: Context, opts: { scriptHashes?: string[]; frameAncestors: "'none'" | "'self'"; only?: 'scripts' }) {
  // The trace viewer renders the trace's page snapshots (any content) in frames
  // and workers of its own: only its scripts, plugins, base and framing are pinned.
  const csp = opts.only === 'scripts' ? [
    `script-src 'self'${(opts.scriptHashes ?? []).map((h) => ` '${h}'`).join('')}`,
    "object-src 'none'",
    "base-uri 'self'",
    `frame-ancestors ${opts.frameAncestors}`,
  ].join('; ') : [
    "default-src 'self'",
    `script-src 'self'${(opts.scriptHashes ?? []).map((h) => ` '${h}'`).join('')}`,
    // style attributes and <style> of UI libraries; never scripts
    "style-src 'self' 'unsafe-inline'",
    // avatars may live on other https hosts; screenshots and traces are same-origin or blob:
    "img-src 'self' data: blob: https:",
    "media-src 'self' blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "frame-src 'self'",
    "worker-src 'self'",
    "manifest-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    `frame-ancestors ${opts.frameAncestors}`,
  ].join('; ');
  ctx.set('Content-Security-Policy', csp);
  ctx.set('X-Frame-Options', opts.frameAncestors === "'none'" ? 'DENY' : 'SAMEORIGIN');
  ctx.set('Referrer-Policy', 'no-referrer');
  ctx.set('Cross-Origin-Opener-Policy', 'same-origin');
}

// The 'sha256-…' sources of the inline scripts of an HTML file, for its CSP.
export function inlineScriptHashes(html: string): string[] {
  return [...html.matchAll(/<script(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/gi)]
    .map((m) => `sha256-${createHash('sha256').update(m[1]!).digest('base64')}`);
}

// Sends a file below root; false when there is none (a directory, or missing).
export async function sendFile(ctx: Context, root: string, path: string, cacheControl: string): Promise<boolean> {
  const file = join(root, path);
  if (!path || path.endsWith('/') || !existsSync(file)) return false;
  ctx.set('Cache-Control', cacheControl);
  ctx.set('X-Content-Type-Options', 'nosniff');
  try {
    await send(ctx, path, { root, index: false, hidden: false, brotli: true, gzip: true, format: false });
  } catch (err) {
    if ((err as { status?: number }).status === 404) return false;
    throw err;
  }
  return true;
}

export const readText = (file: string) => readFileSync(file, 'utf8');
