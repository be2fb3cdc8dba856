/**
 * The raw bytes of a finished bulk operation's result, with no JSON parsing: for loaders that let
 * a database read the JSONL file itself (DuckDB `read_ndjson`), and for lakes that keep Shopify's
 * output unchanged.
 *
 * - `download` streams the bytes of one attempt.
 * - `downloadTo` writes them to a local file, retrying a dropped connection and resuming it with an
 *   HTTP `Range` request where the server honours one (a `200` answer restarts the file from zero,
 *   so a server without Range support costs time, never correctness). A COMPLETED job's line count
 *   must equal its `objectCount`, else the download fails with `DataLoss`.
 *
 * @since 0.2.0
 */
import { open } from "node:fs/promises"
import { type ApiError, HttpTransport } from "@kura/core"
import { Duration, Effect, Stream } from "effect"
import type { BulkOperation, FinishedJob } from "./ShopifyBulk.js"
import { DataLoss, Http, ShopifyError } from "./ShopifyError.js"

/**
 * Where a finished job's data is: the full result for COMPLETED, the partial data otherwise.
 *
 * @since 0.2.0
 * @category models
 */
export interface BulkResultLocation {
  readonly url: string | null
  readonly partial: boolean
  /** Lines the file must hold (COMPLETED only; partial data has no stated count). */
  readonly expectedLines: bigint | null
}

/**
 * The result location of a finished job.
 *
 * @since 0.2.0
 * @category accessors
 */
export const resultLocationOf = (operation: BulkOperation): BulkResultLocation => {
  const partial = operation.status !== "COMPLETED"
  return {
    url: partial ? operation.partialDataUrl : operation.url,
    partial,
    expectedLines: partial ? null : BigInt(String(operation.objectCount))
  }
}

/**
 * Options of `downloadTo`.
 *
 * @since 0.2.0
 * @category models
 */
export interface DownloadOptions {
  /** Retries after a failed attempt (connection fault, timeout, 5xx). Default 5. */
  readonly retries?: number
  /** First wait before a retry in ms (doubles up to 30 s). Default 1000. */
  readonly retryMillis?: number
  /** Response timeout of one attempt. Default 30 min. */
  readonly timeoutMillis?: number
}

/**
 * What `downloadTo` wrote.
 *
 * @since 0.2.0
 * @category models
 */
export interface DownloadedFile {
  readonly jobId: string
  readonly file: string
  readonly bytes: number
  /** JSONL lines (a last line without a newline counts). */
  readonly lines: number
  /** True when this is a FAILED/TIMEOUT job's partial data. */
  readonly partial: boolean
  /** Attempts made (1 when nothing failed). */
  readonly attempts: number
  /** Bytes kept across attempts thanks to `Range` (0 when no attempt was resumed). */
  readonly resumedBytes: number
}

const operationOf = (jobId: string) => `bulk result download ${jobId}`

const fromApiError = (operation: string) => (e: ApiError) =>
  new ShopifyError({
    operation,
    reason: new Http({
      status: "status" in e.reason ? e.reason.status : null,
      retryable: e.retryable,
      message: e.message
    })
  })

const localFailure = (operation: string, file: string) => (cause: unknown) =>
  new ShopifyError({
    operation,
    reason: new Http({
      status: null,
      retryable: false,
      message: `cannot write ${file}: ${cause instanceof Error ? cause.message : String(cause)}`
    })
  })

/**
 * The bytes of a finished job's result (or partial data) as they arrive, for one attempt: no
 * retry, no parsing. Empty when the job has no URL and no objects; fails with `DataLoss` when a
 * COMPLETED job reports objects but no URL.
 *
 * @since 0.2.0
 * @category download
 */
export const download = (
  job: FinishedJob | BulkOperation,
  options: { readonly timeoutMillis?: number; readonly headers?: Readonly<Record<string, string>> } = {}
): Stream.Stream<Uint8Array, ShopifyError, HttpTransport> => {
  const op = "operation" in job ? job.operation : job
  const operation = operationOf(op.id)
  const where = resultLocationOf(op)
  if (where.url === null) {
    return where.expectedLines !== null && where.expectedLines > 0n
      ? Stream.fail(missingUrl(op, operation))
      : Stream.empty
  }
  const url = where.url
  return Stream.unwrap(
    Effect.gen(function* () {
      const transport = yield* HttpTransport
      const response = yield* transport
        .stream({
          method: "GET",
          url,
          timeoutMillis: options.timeoutMillis ?? 30 * 60_000,
          ...(options.headers === undefined ? {} : { headers: options.headers })
        })
        .pipe(Effect.mapError(fromApiError(operation)))
      return response.body.pipe(Stream.mapError(fromApiError(operation)))
    })
  )
}

const missingUrl = (op: BulkOperation, operation: string) =>
  new ShopifyError({
    operation,
    reason: new DataLoss({
      jobId: op.id,
      expected: String(op.objectCount),
      actual: "0",
      message: `bulk job ${op.id} COMPLETED with objectCount ${String(op.objectCount)} but no result URL`
    })
  })

const NEWLINE = 0x0a

/**
 * Writes a finished job's result (or partial data) to `file`, byte for byte. A failed attempt is
 * retried (bounded, with backoff) and resumed from the bytes already on disk with
 * `Range: bytes=N-`; a `200` answer to a ranged request restarts the file. Verifies a COMPLETED
 * job's line count against `objectCount` (`DataLoss` on a difference).
 *
 * @since 0.2.0
 * @category download
 */
export const downloadTo = Effect.fn("BulkDownload.downloadTo")(function* (
  job: FinishedJob | BulkOperation,
  file: string,
  options: DownloadOptions = {}
) {
  const op = "operation" in job ? job.operation : job
  const operation = operationOf(op.id)
  const where = resultLocationOf(op)
  const fail = localFailure(operation, file)
  const retries = options.retries ?? 5
  let wait = options.retryMillis ?? 1000
  const handle = yield* Effect.tryPromise({ try: () => open(file, "w"), catch: fail })
  return yield* Effect.ensuring(
    Effect.gen(function* () {
      let bytes = 0
      let newlines = 0
      let last = NEWLINE
      let attempts = 0
      let resumed = 0
      if (where.url === null) {
        if (where.expectedLines !== null && where.expectedLines > 0n)
          return yield* Effect.fail(missingUrl(op, operation))
      } else {
        for (;;) {
          attempts++
          const from = bytes
          const attempt = Effect.scoped(
            Effect.gen(function* () {
              const transport = yield* HttpTransport
              const response = yield* transport
                .stream({
                  method: "GET",
                  url: where.url ?? "",
                  timeoutMillis: options.timeoutMillis ?? 30 * 60_000,
                  ...(from > 0 ? { headers: { Range: `bytes=${from}-` } } : {})
                })
                .pipe(Effect.mapError(fromApiError(operation)))
              const range = response.headers["content-range"] ?? ""
              if (from > 0 && !(response.status === 206 && range.startsWith(`bytes ${from}-`))) {
                // The server sent the whole file again: start over rather than append a copy.
                yield* Effect.tryPromise({ try: () => handle.truncate(0), catch: fail })
                bytes = 0
                newlines = 0
                last = NEWLINE
              } else if (from > 0) resumed += from
              yield* response.body.pipe(
                Stream.mapError(fromApiError(operation)),
                Stream.runForEach((chunk) =>
                  Effect.gen(function* () {
                    if (chunk.byteLength === 0) return
                    yield* Effect.tryPromise({
                      try: () => handle.write(chunk, 0, chunk.byteLength, bytes),
                      catch: fail
                    })
                    bytes += chunk.byteLength
                    for (let i = 0; i < chunk.byteLength; i++) if (chunk[i] === NEWLINE) newlines++
                    last = chunk[chunk.byteLength - 1] ?? last
                  })
                )
              )
            })
          )
          const outcome = yield* Effect.result(attempt)
          if (outcome._tag === "Success") break
          const error = outcome.failure
          const retryable = error.reason._tag === "Http" && error.reason.retryable
          if (!retryable || attempts > retries) return yield* Effect.fail(error)
          yield* Effect.logWarning("Bulk result download interrupted; resuming").pipe(
            Effect.annotateLogs({ jobId: op.id, bytes: String(bytes), error: error.message })
          )
          yield* Effect.sleep(Duration.millis(wait))
          wait = Math.min(30_000, wait * 2)
        }
      }
      const lines = newlines + (bytes > 0 && last !== NEWLINE ? 1 : 0)
      if (where.expectedLines !== null && BigInt(lines) !== where.expectedLines) {
        return yield* new ShopifyError({
          operation,
          reason: new DataLoss({
            jobId: op.id,
            expected: String(where.expectedLines),
            actual: String(lines),
            message: `bulk job ${op.id}: the result file has ${lines} lines but objectCount is ${String(where.expectedLines)}`
          })
        })
      }
      return {
        jobId: op.id,
        file,
        bytes,
        lines,
        partial: where.partial,
        attempts: Math.max(1, attempts),
        resumedBytes: resumed
      } satisfies DownloadedFile
    }),
    Effect.promise(() => handle.close())
  )
})
