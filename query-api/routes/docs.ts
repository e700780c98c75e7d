import Router from '@koa/router';
import type Koa from 'koa';
import type { AppDeps } from '../../domain/app-deps.ts';
import { mountedRoutes } from '../../lib/http/routes.ts';
import { buildOpenApi, type OpenApiDocument } from '../../lib/http/openapi.ts';

// GET /openapi.json: the OpenAPI 3.1 document of the routes this app serves
// (lib/http/openapi.ts); GET /docs: the same as one self-contained HTML page,
// rendered here (no script, no CDN: it works offline and behind a proxy).
export function docsRouter(_deps: AppDeps): Router {
  const router = new Router();
  const built = new WeakMap<Koa, OpenApiDocument>();
  const documentOf = (app: Koa) => {
    let doc = built.get(app);
    if (!doc) built.set(app, (doc = buildOpenApi(mountedRoutes(app)).document));
    return doc;
  };
  router.get('/openapi.json', (ctx) => {
    ctx.body = documentOf(ctx.app);
  });
  router.get('/docs', (ctx) => {
    ctx.type = 'text/html; charset=utf-8';
    ctx.set('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'");
    ctx.body = renderDocs(documentOf(ctx.app));
  });
  return router;
}

const esc = (s: unknown) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const json = (v: unknown) => `<pre>${esc(JSON.stringify(v, null, 2))}</pre>`;

export function renderDocs(doc: OpenApiDocument): string {
  const byTag = new Map<string, string[]>();
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const params = (op.parameters ?? []) as Array<{ name: string; in: string; required?: boolean; schema?: unknown; description?: string }>;
      const rows = params.map((p) => `<tr><td><code>${esc(p.name)}</code></td><td>${esc(p.in)}</td><td>${p.required ? 'yes' : ''}</td><td><code>${esc(JSON.stringify(p.schema ?? {}))}</code>${p.description ? ` ${esc(p.description)}` : ''}</td></tr>`).join('');
      const body = op.requestBody ? `<details><summary>request body (${esc(Object.keys(op.requestBody.content).join(', '))})</summary>${json(Object.values(op.requestBody.content as Record<string, { schema: unknown }>)[0]!.schema)}</details>` : '';
      const responses = Object.entries(op.responses as Record<string, { description: string }>)
        .map(([status, r]) => `<li><b>${esc(status)}</b> ${esc(r.description)}</li>`).join('');
      const html = `<section id="${esc(op.operationId)}"><h3><span class="m ${esc(method)}">${esc(method.toUpperCase())}</span> <code>${esc(path)}</code></h3>
<p>${esc(op.summary)}${op['x-runledger-permission'] ? ` <i>(permission: ${esc(op['x-runledger-permission'])})</i>` : ''}${op.security?.length === 0 ? ' <i>(no credential)</i>' : ''}</p>
${rows ? `<table><tr><th>parameter</th><th>in</th><th>required</th><th>schema</th></tr>${rows}</table>` : ''}${body}<ul>${responses}</ul></section>`;
      const tag = (op.tags?.[0] as string) ?? 'other';
      byTag.set(tag, [...(byTag.get(tag) ?? []), html]);
    }
  }
  const info = doc.info as { title: string; version: string; description: string };
  const nav = [...byTag.keys()].map((t) => `<a href="#tag-${esc(t)}">${esc(t)}</a>`).join(' · ');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(info.title)}</title>
<style>body{font:14px/1.4 system-ui,sans-serif;max-width:70em;margin:2em auto;padding:0 1em}code,pre{font-family:ui-monospace,monospace}
pre{background:#f6f6f6;padding:.5em;overflow:auto;max-height:30em}section{border-top:1px solid #ddd;padding:.3em 0}
.m{display:inline-block;min-width:4.5em;font-size:.8em;padding:.1em .4em;border-radius:3px;color:#fff;background:#666}
.get{background:#2a7}.post{background:#27a}.patch{background:#a72}.delete{background:#a33}table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.2em .4em;text-align:left}</style>
</head><body><h1>${esc(info.title)} <small>${esc(info.version)}</small></h1><p>${esc(info.description)}</p>
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI ${esc(doc.openapi)}). Sections: ${nav}</p>
${[...byTag].map(([t, ops]) => `<h2 id="tag-${esc(t)}">${esc(t)}</h2>${ops.join('\n')}`).join('\n')}
<h2>Error codes</h2>${json((doc.components.schemas.ErrorCode as { enum: string[] }).enum)}
<p>${esc((doc.components.schemas.ErrorCode as { description: string }).description)}</p>
</body></html>`;
}
