import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Context, Middleware, Next } from 'koa';
import { compressText, htmlSecurityHeaders, IMMUTABLE, inlineScriptHashes, readText, REVALIDATE, sendFile } from './static-files.ts';

// The Playwright Trace Viewer that playwright-core ships (lib/vite/traceViewer),
// self-hosted at /trace/: the dashboard opens
// /trace/?trace=<same-origin signed artifact URL> and the viewer's service
// worker (scope /trace/) fetches the zip from the API itself. Nothing is uploaded
// anywhere, and the viewer is the exact version of the installed playwright-core.
export const TRACE_PATH = '/trace';

export function traceViewerDir(): string | null {
  try {
    const pkg = createRequire(import.meta.url).resolve('playwright-core/package.json');
    const dir = join(dirname(pkg), 'lib', 'vite', 'traceViewer');
    return existsSync(join(dir, 'index.html')) ? dir : null;
  } catch {
    return null;
  }
}

// Vite names its chunks name.<8-char hash>.ext or assets/name-<hash>.ext.
const HASHED = /(^|\/)[^/]+[.-][A-Za-z0-9_-]{8}\.(js|css|ttf|woff2?)$/;

export function traceViewer(dir = traceViewerDir()): Middleware {
  const compressing = compressText();
  // index.html has an inline script (its file:// fallback): allowed by hash only.
  const indexHashes = dir ? inlineScriptHashes(readText(join(dir, 'index.html'))) : [];

  return async (ctx: Context, next: Next) => {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return next();
    if (ctx.path === TRACE_PATH) {
      // The viewer's relative URLs (sw.bundle.js, ./assets/…) need the trailing slash.
      ctx.status = 308;
      ctx.redirect(`${TRACE_PATH}/${ctx.querystring ? `?${ctx.querystring}` : ''}`);
      return;
    }
    if (!ctx.path.startsWith(`${TRACE_PATH}/`)) return next();
    if (!dir) {
      ctx.status = 503;
      ctx.type = 'text/plain; charset=utf-8';
      ctx.body = 'The Playwright Trace Viewer is not installed (playwright-core/lib/vite/traceViewer is missing).\n';
      return;
    }
    let file = ctx.path.slice(TRACE_PATH.length + 1);
    try {
      file = decodeURIComponent(file);
    } catch {
      return next();
    }
    if (file === '' || file === 'index.html') {
      file = 'index.html';
      htmlSecurityHeaders(ctx, { scriptHashes: indexHashes, frameAncestors: "'self'", only: 'scripts' });
    } else if (file.endsWith('.html')) {
      htmlSecurityHeaders(ctx, { frameAncestors: "'self'", only: 'scripts' });
    }
    // The service worker must be fetched fresh: it is the viewer's version.
    if (file === 'sw.bundle.js') ctx.set('Service-Worker-Allowed', `${TRACE_PATH}/`);
    let served = false;
    await compressing(ctx, async () => {
      served = await sendFile(ctx, dir, file, HASHED.test(file) ? IMMUTABLE : REVALIDATE);
    });
    if (!served) return next();
  };
}
