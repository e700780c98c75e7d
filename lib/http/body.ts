import type { Context, Next } from 'koa';
import { bodyParser } from '@koa/bodyparser';
import { AppError } from '../errors.ts';

// JSON bodies only, bounded, and a 415 for anything else that carries a body.
export function jsonBody(limitBytes: number) {
  const parser = bodyParser({
    enableTypes: ['json'], jsonLimit: limitBytes, encoding: 'utf-8',
    onError: (err, ctx) => {
      // The parser stops reading at the first error (e.g. over the limit). Let
      // Node drain what the client is still sending, as it does for a request
      // refused before parsing: closing a socket with unread data resets it,
      // and the client may lose our 413 to that reset.
      ctx.req.unpipe();
      ctx.req.resume();
      // A Content-Encoding whose data does not inflate is the client's fault.
      const code = (err as { code?: unknown }).code;
      if (typeof code === 'string' && code.startsWith('Z_')) {
        throw new AppError('invalid_json', `request body is not valid ${ctx.get('content-encoding')} data`);
      }
      throw err;
    },
  });
  return async (ctx: Context, next: Next) => {
    // A body without a Content-Type is "anything else" too: reading it as no
    // body would answer with a misleading validation error.
    const hasBody = (ctx.request.length ?? 0) > 0 || (ctx.request.length === undefined && ctx.get('transfer-encoding') !== '');
    if (['POST', 'PUT', 'PATCH'].includes(ctx.method) && hasBody) {
      if (!ctx.is('json')) throw new AppError('unsupported_media_type', 'send the body as application/json');
    }
    const length = Number(ctx.get('content-length') || 0);
    if (length > limitBytes) throw new AppError('payload_too_large', `request body exceeds ${limitBytes} bytes`);
    rejectNul('query', ctx.query);
    await parser(ctx, async () => {
      if (ctx.request.rawBody?.includes('\\u0000')) rejectNul('body', ctx.request.body);
      await next();
    });
  };
}

// Postgres text cannot hold U+0000: a string with one would be accepted here,
// then fail a query (500) or be dead-lettered by the projector after a 201.
// So it is refused up front, in the query string and the body alike. Walked
// with a stack, not recursion: bodies may nest deeper than the call stack.
function rejectNul(where: 'query' | 'body', value: unknown): void {
  const stack: Array<[unknown, string]> = [[value, '']];
  while (stack.length) {
    const [v, path] = stack.pop()!;
    if (typeof v === 'string') {
      if (v.includes('\u0000')) {
        const message = 'must not contain NUL (U+0000) characters';
        throw new AppError('validation_error', `'${path}' ${message}`, { field: path, issues: [{ path, message }], in: where });
      }
    } else if (v && typeof v === 'object') {
      for (const [k, child] of Object.entries(v)) stack.push([child, path ? `${path}.${k}` : k]);
    }
  }
}
