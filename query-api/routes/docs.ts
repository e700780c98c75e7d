import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import Router from '@koa/router';
import type Koa from 'koa';
import type { AppDeps } from '../../domain/app-deps.ts';
import { notFound } from '../../lib/errors.ts';
import { mountedRoutes } from '../../lib/http/routes.ts';
import { buildOpenApi, type OpenApiDocument } from '../../lib/http/openapi.ts';
import { EXPLORER_INIT_JS } from './docs-explorer-init.ts';

// GET /openapi.json: the OpenAPI 3.1 document of the routes this app serves
// (lib/http/openapi.ts). GET /docs: an interactive explorer of it, Swagger UI
// (swagger-ui-dist from npm, served from this process: no CDN, works offline),
// whose "Try it out" sends requests with the key or token given to "Authorize".
// The page has no inline script (its start-up is docs-explorer-init.ts), so
// its CSP allows scripts from this origin only; Swagger UI sets inline styles.
const dist = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
const ASSETS: Record<string, { path: string; type: string } | { text: string; type: string }> = {
  'swagger-ui.css': { path: join(dist, 'swagger-ui.css'), type: 'text/css; charset=utf-8' },
  'swagger-ui-bundle.js': { path: join(dist, 'swagger-ui-bundle.js'), type: 'application/javascript; charset=utf-8' },
  'favicon-32x32.png': { path: join(dist, 'favicon-32x32.png'), type: 'image/png' },
  'init.js': { text: EXPLORER_INIT_JS, type: 'application/javascript; charset=utf-8' },
};
const CSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Runledger API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png">
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head><body><div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/init.js"></script>
</body></html>`;

export function docsRouter(_deps: AppDeps): Router {
  const router = new Router();
  const built = new WeakMap<Koa, OpenApiDocument>();
  const documentOf = (app: Koa) => {
    let doc = built.get(app);
    if (!doc) built.set(app, (doc = buildOpenApi(mountedRoutes(app)).document));
    return doc;
  };
  const files = new Map<string, Buffer>();
  router.get('/openapi.json', (ctx) => {
    ctx.body = documentOf(ctx.app);
  });
  router.get('/docs', (ctx) => {
    ctx.type = 'text/html; charset=utf-8';
    ctx.set('Content-Security-Policy', CSP);
    ctx.body = PAGE;
  });
  router.get('/docs/assets/:file', async (ctx) => {
    const asset = ASSETS[ctx.params.file!];
    if (!asset) throw notFound('file', ctx.params.file!);
    let body = files.get(ctx.params.file!);
    if (!body) files.set(ctx.params.file!, (body = 'text' in asset ? Buffer.from(asset.text) : await readFile(asset.path)));
    ctx.type = asset.type;
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.body = body;
  });
  return router;
}
