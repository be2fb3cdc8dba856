/**
 * The one-liner most client endpoints need: send through the transport, under a rate limiter,
 * with the retry policy, then decode the body with a schema. It fixes the order (limiter inside
 * the retry, so every retry waits for the budget again) and threads the attempt number into the
 * request, so clients cannot get those subtly wrong one endpoint at a time.
 */
import { Effect, type Schema } from "effect"
import type { ApiError } from "./ApiError.js"
import { decodeJson, type HttpRequest, type HttpResponse, HttpTransport } from "./HttpTransport.js"
import { type RetryPolicyOptions, withRetry } from "./RetryPolicy.js"

/** How to run one call. */
export interface CallOptions {
  /** Retry policy (defaults apply when omitted). Pass `{ maxAttempts: 1 }` to disable retries. */
  readonly retry?: RetryPolicyOptions | undefined
  /**
   * Wraps every attempt, typically a limiter:
   * `(send) => bucket.withBucket(shop, send)` or `(send) => limiter.withLimit(account, send)`.
   */
  readonly limit?:
    | ((send: Effect.Effect<HttpResponse, ApiError>) => Effect.Effect<HttpResponse, ApiError>)
    | undefined
}

/** Sends `request` with limiter and retries; a 4xx/5xx fails with the classified `ApiError`. */
export const call = (
  request: HttpRequest,
  options: CallOptions = {}
): Effect.Effect<HttpResponse, ApiError, HttpTransport> =>
  HttpTransport.use((http) =>
    withRetry(options.retry ?? {}, (attempt) => {
      const send = http.requestOk({ ...request, attempt })
      return options.limit ? options.limit(send) : send
    })
  )

/** `call`, then decode the JSON body with `schema` (a mismatch is a permanent `Decode` error). */
export const callJson = <S extends Schema.Decoder<unknown>>(
  request: HttpRequest,
  schema: S,
  options: CallOptions = {}
): Effect.Effect<S["Type"], ApiError, HttpTransport> =>
  Effect.flatMap(call(request, options), decodeJson(schema))
