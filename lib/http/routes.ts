import type Koa from 'koa';
import type Router from '@koa/router';

export type MountedRoute = { method: string; path: string };

// Every route the app actually serves, read from the routers mounted on it
// (nested routers are flattened into their parent's stack by @koa/router).
// HEAD, added by the router for every GET, is left out. The isolation matrix
// test calls every one of these with every kind of credential.
export function mountedRoutes(app: Koa): MountedRoute[] {
  const seen = new Set<string>();
  const out: MountedRoute[] = [];
  for (const mw of app.middleware) {
    const router = (mw as { router?: Router }).router;
    if (!router) continue;
    for (const layer of router.stack) {
      for (const method of layer.methods) {
        const key = `${method} ${layer.path}`;
        if (method === 'HEAD' || seen.has(key)) continue;
        seen.add(key);
        out.push({ method, path: String(layer.path) });
      }
    }
  }
  return out;
}
