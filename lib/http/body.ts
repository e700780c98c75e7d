import type { Context, Next } from 'koa';
import type { Readable } from 'node:stream';
import { isUtf8 } from 'node:buffer';
import getRawBody from 'raw-body';
// @ts-expect-error inflation ships no types: inflate(stream) → the decoded stream
import inflate from 'inflation';
import bourne from '@hapi/bourne';
import { AppError } from '../errors.ts';
import { isWellFormedDeep, wellFormedDeep } from '../text.ts';


// Request bodies: JSON (and, where a route allows it, NDJSON), bounded, valid
// UTF-8, and a 415 for anything else that carries a body. Routes that stream
// their own body (multipart uploads) are left alone.
export type BodyRule = { limitBytes: number; ndjson?: boolean; stream?: boolean };

const NDJSON_TYPES = ['application/x-ndjson', 'application/ndjson', 'application/jsonl', 'application/x-jsonlines'];
// Raw text is valid UTF-8, so a NUL or a lone surrogate can only come from an escape.
const MAY_BE_ILL_FORMED = /\\u(?:0000|[dD][89a-fA-F])/;
const STRICT_JSON = /^[\x20\x09\x0a\x0d]*[[{]/;

export function jsonBody(defaultLimitBytes: number, rules: Record<string, BodyRule> = {}) {
  return async (ctx: Context, next: Next) => {
    const rule: BodyRule = rules[ctx.path] ?? { limitBytes: defaultLimitBytes };
    const query = ctx.query;
    if (!isWellFormedDeep(query)) ctx.query = wellFormedDeep(query) as typeof query;
    if (rule.stream || !['POST', 'PUT', 'PATCH'].includes(ctx.method)) return next();
    // A body without a Content-Type is "anything else" too: reading it as no
    // body would answer with a misleading validation error.
    const hasBody = (ctx.request.length ?? 0) > 0 || (ctx.request.length === undefined && ctx.get('transfer-encoding') !== '');
    const ndjson = !!rule.ndjson && hasBody && ctx.is(NDJSON_TYPES) !== false;
    if (hasBody && !ndjson && !ctx.is('json')) {
      throw new AppError('unsupported_media_type', `send the body as application/json${rule.ndjson ? ' or application/x-ndjson' : ''}`);
    }
    const length = Number(ctx.get('content-length') || 0);
    if (length > rule.limitBytes) throw new AppError('payload_too_large', `request body exceeds ${rule.limitBytes} bytes`, { limitBytes: rule.limitBytes });
    const text = hasBody ? await readText(ctx, rule.limitBytes) : '';
    ctx.request.rawBody = text;
    if (ndjson) {
      ctx.state.ndjson = true;
    } else {
      ctx.request.body = parseJson(text);
    }
    await next();
  };
}

// The body as text: decoded (Content-Encoding), bounded, and valid UTF-8. A
// body that is not UTF-8 is refused rather than read with replacement
// characters: what we store must be what the client sent.
export async function readText(ctx: Context, limitBytes: number): Promise<string> {
  let stream: Readable;
  try {
    stream = inflate(ctx.req);
  } catch {
    drain(ctx);
    throw new AppError('unsupported_media_type', `unsupported Content-Encoding ${ctx.get('content-encoding')}`);
  }
  const identity = (ctx.get('content-encoding') || 'identity') === 'identity';
  let buf: Buffer;
  try {
    buf = await getRawBody(stream, { limit: limitBytes, length: identity ? ctx.get('content-length') || undefined : undefined });
  } catch (err) {
    // The reader stops at the first error (e.g. over the limit). Let Node drain
    // what the client is still sending: closing a socket with unread data resets
    // it, and the client may lose our 413 to that reset.
    drain(ctx);
    const e = err as { type?: string; code?: unknown };
    if (e.type === 'entity.too.large') throw new AppError('payload_too_large', `request body exceeds ${limitBytes} bytes`, { limitBytes });
    // A Content-Encoding whose data does not inflate is the client's fault.
    if (typeof e.code === 'string' && e.code.startsWith('Z_')) {
      throw new AppError('invalid_json', `request body is not valid ${ctx.get('content-encoding')} data`);
    }
    if (e.type === 'request.size.invalid' || e.type === 'request.aborted') throw new AppError('invalid_json', 'request body is incomplete');
    throw err;
  }
  if (!isUtf8(buf)) throw new AppError('invalid_json', 'request body is not valid UTF-8');
  const text = buf.toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

function drain(ctx: Context) {
  ctx.req.unpipe();
  ctx.req.resume();
}

// An object or array (a bare string or number is not a request), without
// prototype-poisoning keys.
export function parseJson(text: string): unknown {
  if (!text) return {};
  if (!STRICT_JSON.test(text)) throw new AppError('invalid_json', 'request body is not a JSON object or array');
  try {
    const value = bourne.parse(text, { protoAction: 'error' });
    // The text rule (lib/text.ts); most bodies skip the walk.
    return MAY_BE_ILL_FORMED.test(text) ? wellFormedDeep(value) : value;
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw new AppError('invalid_json', 'request body is not valid JSON');
  }
}

declare module 'koa' {
  interface Request {
    body?: unknown;
    rawBody?: string;
  }
}
