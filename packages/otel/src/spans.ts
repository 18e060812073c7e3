import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import type { Attributes, Span, Tracer } from '@opentelemetry/api';
import { ATTR, credentialAttributes, errorType } from './attributes';
import type { ImsRequestContext, MintContext } from '@ims-token/core';

/**
 * Spans: one `ims_token.mint` per token obtained from IMS (child of whatever span was active when the mint
 * began, e.g. the request that found the cache cold), and one HTTP client span (`POST`) per attempt at the
 * token endpoint under it. Core keeps one mint in flight per credential, so the open mint of a cache key is
 * the parent of that key's attempts.
 */
export class MintSpans {
  readonly #tracer: Tracer;
  readonly #open = new Map<string, Span[]>();

  constructor(tracer: Tracer) {
    this.#tracer = tracer;
  }

  startMint(ctx: MintContext): Span {
    const attributes: Attributes = { ...credentialAttributes(ctx) };
    if (typeof ctx.reason === 'string') attributes[ATTR.mintReason] = ctx.reason;
    if (typeof ctx.background === 'boolean') attributes[ATTR.mintBackground] = ctx.background;
    const span = this.#tracer.startSpan('ims_token.mint', { kind: SpanKind.INTERNAL, attributes }, context.active());
    const list = this.#open.get(ctx.cacheKey);
    if (list) list.push(span);
    else this.#open.set(ctx.cacheKey, [span]);
    return span;
  }

  endMint(ctx: MintContext, span: Span): void {
    const list = this.#open.get(ctx.cacheKey);
    if (list) {
      const i = list.indexOf(span);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.#open.delete(ctx.cacheKey);
    }
    const secretIndex = ctx.result?.secretIndex;
    if (typeof secretIndex === 'number') span.setAttribute(ATTR.secretIndex, secretIndex);
    fail(span, ctx);
    span.end();
  }

  startRequest(ctx: ImsRequestContext): Span {
    const parentSpan = this.#open.get(ctx.cacheKey)?.at(-1);
    const parent = parentSpan ? trace.setSpan(context.active(), parentSpan) : context.active();
    const attributes: Attributes = { ...credentialAttributes(ctx), [ATTR.httpMethod]: 'POST' };
    if (typeof ctx.url === 'string') attributes[ATTR.urlFull] = ctx.url.split(/[?#]/, 1)[0]!;
    if (typeof ctx.attempt === 'number' && ctx.attempt > 1) attributes[ATTR.httpResendCount] = ctx.attempt - 1;
    if (typeof ctx.secretIndex === 'number') attributes[ATTR.secretIndex] = ctx.secretIndex;
    return this.#tracer.startSpan('POST', { kind: SpanKind.CLIENT, attributes }, parent);
  }

  endRequest(ctx: ImsRequestContext, span: Span): void {
    if (typeof ctx.status === 'number') span.setAttribute(ATTR.httpStatus, ctx.status);
    // IMS's x-debug-id (core sanitises it) is what Adobe support asks for; a span attribute, never a metric one.
    if (typeof ctx.debugId === 'string') span.setAttribute(ATTR.debugId, ctx.debugId);
    fail(span, ctx);
    span.end();
  }
}

/** Marks a failed operation: `error.type` and an error status whose message is the code, never the error's text. */
function fail(span: Span, ctx: MintContext | ImsRequestContext): void {
  if (ctx.error === undefined) return;
  const type = errorType(ctx.error);
  span.setAttribute(ATTR.errorType, type);
  span.setStatus({ code: SpanStatusCode.ERROR, message: type });
}
