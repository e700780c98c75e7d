import { expect } from 'vitest';
import { request, type Res } from './http.ts';

// A browser's view of the dashboard's session: the cookies the API set, sent
// back as a browser would (Cookie header), the CSRF token echoed on unsafe methods.
export type SetCookie = { name: string; value: string; attrs: Record<string, string | true> };

export function parseSetCookies(res: Res): SetCookie[] {
  return res.headers.getSetCookie().map((line) => {
    const [pair, ...rest] = line.split(';').map((s) => s.trim());
    const eq = pair!.indexOf('=');
    const attrs: Record<string, string | true> = {};
    for (const a of rest) {
      const i = a.indexOf('=');
      if (i < 0) attrs[a.toLowerCase()] = true;
      else attrs[a.slice(0, i).toLowerCase()] = a.slice(i + 1);
    }
    return { name: pair!.slice(0, eq), value: pair!.slice(eq + 1), attrs };
  });
}

export class Browser {
  readonly jar = new Map<string, string>();
  constructor(readonly base: string, readonly headers: Record<string, string> = {}) {}

  get session() { return this.jar.get('rl_session'); }
  get csrf() { return this.jar.get('rl_csrf'); }

  // Keeps what the answer set; an expired cookie is dropped.
  take(res: Res): Res {
    for (const c of parseSetCookies(res)) {
      const expires = typeof c.attrs.expires === 'string' ? Date.parse(c.attrs.expires) : NaN;
      if (c.value === '' || expires < Date.now()) this.jar.delete(c.name);
      else this.jar.set(c.name, c.value);
    }
    return res;
  }

  async call(method: string, path: string, body?: unknown, opts: { csrf?: string | null; headers?: Record<string, string> } = {}): Promise<Res> {
    const headers: Record<string, string> = { ...this.headers, ...opts.headers };
    if (this.jar.size) headers.cookie = [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const csrf = opts.csrf === undefined ? this.csrf : opts.csrf;
    if (method !== 'GET' && csrf) headers['x-csrf-token'] = csrf;
    return this.take(await request(this.base, method, path, { body, headers }));
  }

  get = (path: string, opts?: { headers?: Record<string, string> }) => this.call('GET', path, undefined, opts);
  post = (path: string, body?: unknown, opts?: { csrf?: string | null; headers?: Record<string, string> }) => this.call('POST', path, body, opts);
  patch = (path: string, body?: unknown, opts?: { csrf?: string | null; headers?: Record<string, string> }) => this.call('PATCH', path, body, opts);
  del = (path: string, opts?: { csrf?: string | null; headers?: Record<string, string> }) => this.call('DELETE', path, undefined, opts);

  async login(email: string, password: string): Promise<Res> {
    const res = await this.post('/api/auth/login', { email, password });
    expect(res.status, res.text).toBe(200);
    expect(this.session).toBeTruthy();
    return res;
  }
}
