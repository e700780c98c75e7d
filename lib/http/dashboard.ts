import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Context, Middleware, Next } from 'koa';
import { compressText, htmlSecurityHeaders, IMMUTABLE, inlineScriptHashes, isApiPath, readText, REVALIDATE, sendFile, wantsHtml } from './static-files.ts';

// The dashboard (web/, built by Vite into RUNLEDGER_WEB_DIR) at /: hashed files
// under /assets/ cached for a year, everything else revalidated; any other GET
// of a page (Accept: text/html) outside the API answers index.html, so the
// app's own URLs can be opened and shared; `/` answers it to any client. Mounted after the API's routers: it
// sees only what none of them answered.
export function dashboard(webDir: string): Middleware {
  const compressing = compressText();
  const index = join(webDir, 'index.html');
  // Vite may inline a small script; its hash goes into the CSP rather than 'unsafe-inline'.
  let hashes: { mtimeOf: string; list: string[] } | null = null;
  const scriptHashes = () => {
    const html = readText(index);
    if (hashes?.mtimeOf !== html) hashes = { mtimeOf: html, list: inlineScriptHashes(html) };
    return hashes.list;
  };

  const serve = async (ctx: Context): Promise<boolean> => {
    let path: string;
    try {
      path = decodeURIComponent(ctx.path);
    } catch {
      return false; // a malformed escape: no such file, and no page of the app
    }
    if (path.startsWith('/assets/')) {
      if (await sendFile(ctx, webDir, path.slice(1), IMMUTABLE)) return true;
      return false; // a stale hashed name: 404, never index.html under a year-long cache
    }
    const entry = path === '/' || path === '/index.html';
    // Unhashed files of Vite's public/ (favicon, robots.txt): revalidated.
    if (!entry && !path.endsWith('/') && (await sendFile(ctx, webDir, path.slice(1), REVALIDATE))) return true;
    // `/` is the dashboard whatever the client accepts (curl, a load balancer's
    // probe); the app's other URLs only for a page request: elsewhere a client
    // expecting JSON gets the API's 404.
    if (!entry && !wantsHtml(ctx)) return false;
    if (!existsSync(index)) {
      notBuilt(ctx, webDir);
      return true;
    }
    htmlSecurityHeaders(ctx, { scriptHashes: scriptHashes(), frameAncestors: "'none'" });
    return sendFile(ctx, webDir, 'index.html', REVALIDATE);
  };

  return async (ctx: Context, next: Next) => {
    if ((ctx.method !== 'GET' && ctx.method !== 'HEAD') || isApiPath(ctx.path)) return next();
    let served = false;
    await compressing(ctx, async () => {
      served = await serve(ctx);
    });
    if (!served) return next();
  };
}

// Without a build there is nothing to serve: say so plainly, with the fix.
function notBuilt(ctx: Context, webDir: string) {
  ctx.status = 503;
  ctx.set('Cache-Control', 'no-store');
  ctx.set('Retry-After', '30');
  htmlSecurityHeaders(ctx, { frameAncestors: "'none'" });
  ctx.type = 'text/html; charset=utf-8';
  const dir = webDir.replace(/[<>&"]/g, '');
  ctx.body = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Runledger: dashboard not built</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; line-height: 1.5">
<h1>The dashboard is not built</h1>
<p>The API is running, but there are no dashboard files in <code>${dir}</code>.</p>
<p>Build them with <code>npm run build --prefix web</code> (<code>ops/up</code> does this), or point
<code>RUNLEDGER_WEB_DIR</code> at a build. The HTTP API is unaffected: see <a href="/docs">/docs</a>.</p>
</body></html>
`;
}
