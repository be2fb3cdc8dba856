/**
 * The raw lake: every fetched page or bulk file written unchanged as gzip NDJSON, streamed
 * (flat memory), readable again for re-modelling without the APIs, with partition retention.
 */
import { createGunzip, createGzip } from "node:zlib"
import type { StreamKey } from "@kura/core"
import { Clock, Context, Effect, Layer, Stream } from "effect"
import { nodeTransform } from "./internal/nodeTransform.js"
import { type LakeLocation, lakePath, parseLakePath, partitionPrefix, utcDay } from "./LakePath.js"
import { ObjectStore, ObjectStoreError } from "./ObjectStore.js"

/** A written batch. */
export interface LakeObject extends LakeLocation {
  readonly path: string
  /** Lines written (records). */
  readonly lines: number
  /** Uncompressed bytes. */
  readonly bytes: number
  /** Compressed bytes stored. */
  readonly storedBytes: number
}

/** The raw lake service. */
export class RawLake extends Context.Service<
  RawLake,
  {
    /**
     * Streams lines (one raw record each, exactly as received, without the newline) into a new
     * gzip NDJSON batch. `dt` defaults to today's UTC date.
     */
    readonly writeBatch: <E>(input: {
      readonly key: StreamKey
      readonly batchId: string
      readonly lines: Stream.Stream<string, E>
      readonly dt?: string
    }) => Effect.Effect<LakeObject, ObjectStoreError | E>
    /** Streams a batch's lines back (decompressed, split, without newlines). */
    readonly readLines: (path: string) => Stream.Stream<string, ObjectStoreError>
    /** Batches of a stream, optionally within [fromDt, toDt] inclusive, oldest first. */
    readonly listBatches: (
      key: StreamKey,
      range?: { readonly fromDt?: string; readonly toDt?: string }
    ) => Effect.Effect<ReadonlyArray<LakeLocation & { readonly path: string }>, ObjectStoreError>
    /** Deletes every partition older than `keepDays` full days; returns the deleted paths. */
    readonly applyRetention: (keepDays: number) => Effect.Effect<ReadonlyArray<string>, ObjectStoreError>
  }
>()("@kura/warehouse/RawLake") {
  /** The lake over whichever ObjectStore is provided. */
  static readonly layer: Layer.Layer<RawLake, never, ObjectStore> = Layer.effect(
    RawLake,
    Effect.map(Effect.service(ObjectStore), (store) => make(store))
  )

  /**
   * Keeps the lake to `keepDays` days while the layer lives: `applyRetention` runs in the
   * background at start and then every `everyMillis` (default one day). A failed pass is logged
   * and tried again next time; it never stops the process that owns the lake.
   */
  static readonly layerRetention = (
    keepDays: number,
    options: { readonly everyMillis?: number } = {}
  ): Layer.Layer<never, never, RawLake> =>
    Layer.effectDiscard(
      Effect.gen(function* () {
        const lake = yield* RawLake
        const pass = lake.applyRetention(keepDays).pipe(
          Effect.tap((deleted) =>
            deleted.length === 0
              ? Effect.void
              : Effect.logInfo(
                  `lake retention: deleted ${deleted.length} objects older than ${keepDays} days`
                )
          ),
          Effect.catch((e) => Effect.logWarning(`lake retention pass failed, retrying later: ${e.message}`))
        )
        yield* Effect.forkScoped(
          Effect.forever(Effect.andThen(pass, Effect.sleep(options.everyMillis ?? 86_400_000)))
        )
      })
    )
}

const encoder = new TextEncoder()

/** Builds the lake over a store. */
export const make = (store: ObjectStore["Service"]): RawLake["Service"] => {
  const writeBatch = <E>(input: {
    readonly key: StreamKey
    readonly batchId: string
    readonly lines: Stream.Stream<string, E>
    readonly dt?: string
  }) =>
    Effect.gen(function* () {
      const dt = input.dt ?? utcDay(yield* Clock.currentTimeMillis)
      const loc: LakeLocation = { key: input.key, dt, batchId: input.batchId }
      const path = yield* Effect.try({
        try: () => lakePath(loc),
        catch: (e) =>
          new ObjectStoreError({
            reason: "InvalidPath",
            operation: "writeBatch",
            path: "",
            message: e instanceof Error ? e.message : String(e)
          })
      })
      let lines = 0
      let bytes = 0
      // One buffer per upstream chunk (a page, or 4096 lines): per-line buffers would make the
      // async bridge to zlib the bottleneck.
      const raw = input.lines.pipe(
        Stream.rechunk(4096),
        Stream.mapArray((chunk) => {
          lines += chunk.length
          const buf = encoder.encode(`${chunk.join("\n")}\n`)
          bytes += buf.byteLength
          return [buf] as const
        })
      )
      const gz = nodeTransform(
        raw,
        () => createGzip({ level: 6 }),
        (cause) =>
          new ObjectStoreError({ reason: "Io", operation: "gzip", path, message: String(cause), cause })
      )
      const info = yield* store.put(path, gz, { contentType: "application/x-ndjson" })
      return { ...loc, path, lines, bytes, storedBytes: info.size } satisfies LakeObject
    }).pipe(Effect.withSpan("RawLake.writeBatch"))

  const readLines = (path: string) =>
    nodeTransform(
      store.get(path),
      () => createGunzip(),
      (cause) =>
        new ObjectStoreError({
          reason: "Integrity",
          operation: "gunzip",
          path,
          message: `not a valid gzip NDJSON batch: ${cause instanceof Error ? cause.message : String(cause)}`,
          cause
        })
    ).pipe(
      Stream.decodeText,
      Stream.splitLines,
      Stream.filter((l) => l.length > 0)
    )

  const listBatches = (key: StreamKey, range?: { readonly fromDt?: string; readonly toDt?: string }) =>
    Effect.map(store.list(partitionPrefix(key)), (objects) =>
      objects.flatMap((o) => {
        const loc = parseLakePath(o.path)
        if (!loc) return []
        if (range?.fromDt !== undefined && loc.dt < range.fromDt) return []
        if (range?.toDt !== undefined && loc.dt > range.toDt) return []
        return [{ ...loc, path: o.path }]
      })
    )

  const applyRetention = (keepDays: number) =>
    Effect.gen(function* () {
      if (!Number.isInteger(keepDays) || keepDays < 1) {
        return yield* new ObjectStoreError({
          reason: "InvalidPath",
          operation: "applyRetention",
          path: "",
          message: `keepDays must be a whole number of days ≥ 1, got ${keepDays}`
        })
      }
      const now = yield* Clock.currentTimeMillis
      const cutoff = utcDay(now - keepDays * 86_400_000)
      const objects = yield* store.list("source=")
      const old = objects.filter((o) => {
        const loc = parseLakePath(o.path)
        return loc !== undefined && loc.dt < cutoff
      })
      yield* Effect.forEach(old, (o) => store.delete(o.path), { concurrency: 8, discard: true })
      return old.map((o) => o.path)
    }).pipe(Effect.withSpan("RawLake.applyRetention"))

  return RawLake.of({ writeBatch, readLines, listBatches, applyRetention })
}
