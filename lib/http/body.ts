import type { Context, Next } from 'koa';
import { bodyParser } from '@koa/bodyparser';
import { AppError } from '../errors.ts';

// JSON bodies only, bounded, and a 415 for anything else that carries a body.
export function jsonBody(limitBytes: number) {
  const parser = bodyParser({ enableTypes: ['json'], jsonLimit: limitBytes, encoding: 'utf-8' });
  return async (ctx: Context, next: Next) => {
    if (['POST', 'PUT', 'PATCH'].includes(ctx.method) && ctx.request.length !== 0 && ctx.get('content-type')) {
      if (!ctx.is('json')) throw new AppError('unsupported_media_type', 'send the body as application/json');
    }
    const length = Number(ctx.get('content-length') || 0);
    if (length > limitBytes) throw new AppError('payload_too_large', `request body exceeds ${limitBytes} bytes`);
    await parser(ctx, next);
  };
}
