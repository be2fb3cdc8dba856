/**
 * Listing and replaying `_kura_dead_letters` for operators (`kura-sync dead-letters list|replay`).
 *
 * A replay re-runs each pending letter through the path its stream uses: the client's Schema
 * decodes the stored payload, the stream's own mapper turns it into canonical rows, and
 * `Warehouse.load` upserts them (newer `updated_at` wins, so a replay never overwrites a newer
 * copy the sync has loaded since). The decoder and mapper come from the stream modules
 * (`lightspeedReplayers`, `stockyReplayers`, …), never from a copy here. Load rejections
 * (`type_changed`, `missing_field`, `invalid_field`) hold a canonical row and are re-loaded as is,
 * typically after the operator widened a column. A letter is marked replayed only when every row
 * of its record loaded; a failure leaves it pending and counts the attempt.
 *
 * A replayed record lands like a fetched one: first in the raw lake (a batch `replay-<letter id>`
 * under its stream's partition) and `_kura_raw`, then in the canonical tables. So the lake stays
 * the complete replay source: re-modelling it (or `_kura_raw`) reproduces the tables, corrected
 * records included. In `_kura_raw` the replayed record replaces a stored copy of the same version
 * (the malformed one a `map` letter was cut from). A load rejection is not landed again: its
 * record already is (the row was refused after the lake and `_kura_raw` took the record).
 */
import type { StreamKey } from "@kura/core"
import {
  type CanonicalRows,
  type CanonicalTableName,
  LOAD_REJECTIONS,
  RawLake,
  RawLoader,
  type StoredDeadLetter,
  type Warehouse
} from "@kura/warehouse"
import { Clock, Effect, Schema, Stream } from "effect"
import { relinkVariants } from "./RelinkVariants.js"
import { toJsonLine } from "./sources/Ingest.js"

/** Why one letter did not replay. */
export class ReplayFailed extends Schema.TaggedError<ReplayFailed>()("ReplayFailed", {
  reason: Schema.Literals(["NoHandler", "Payload", "Decode", "Map", "Load", "Companion", "Context"]),
  message: Schema.String
}) {}

/** What a replayer gets besides the letter. */
export interface ReplayContext {
  readonly warehouse: Warehouse["Service"]
  /** The `_synced_at` of the replayed rows (ISO-8601 UTC). */
  readonly syncedAt: string
  /** The `_batch_id` of the replayed rows. */
  readonly batchId: string
  /** Every pending letter of the same stream key (e.g. orphan items that belong to this record). */
  readonly pending: ReadonlyArray<StoredDeadLetter>
}

/** The canonical rows of one replayed record, and other letters that travel with it. */
export interface ReplayOutcome {
  readonly rows: CanonicalRows
  /** Ids of pending letters this record carries too (marked replayed with it on success). */
  readonly companions?: ReadonlyArray<string>
  /**
   * The records to land in the raw lake and `_kura_raw`, as the stream lands them (e.g. an
   * adjustment joined with its companion items). Default: the replayed payload.
   */
  readonly raw?: ReadonlyArray<unknown>
}

/** Decode + map for one stream: built by the stream's module from its own decoder and mapper. */
export interface Replayer {
  readonly replay: (
    letter: StoredDeadLetter,
    payload: unknown,
    ctx: ReplayContext
  ) => Effect.Effect<ReplayOutcome, ReplayFailed>
}

/** Replayers keyed by `source/account/stream` (an account's own) or `source/stream` (any account). */
export type Replayers = Readonly<Record<string, Replayer>>

/** Decodes `payload` with a client Schema, failing with the Schema's message (field and expectation). */
export const decodeWith =
  <A>(schema: Schema.ConstraintDecoder<A>) =>
  (payload: unknown): Effect.Effect<A, ReplayFailed> =>
    Schema.decodeUnknownEffect(schema)(payload).pipe(
      Effect.mapError((e) => new ReplayFailed({ reason: "Decode", message: e.message }))
    )

/** Runs a mapper that throws on bad input (as every stream's `mapAll` expects) as an Effect. */
export const mapWith = <A>(map: () => A): Effect.Effect<A, ReplayFailed> =>
  Effect.try({
    try: map,
    catch: (e) => new ReplayFailed({ reason: "Map", message: e instanceof Error ? e.message : String(e) })
  })

/** Which letters to list or replay. */
export interface LetterSelection {
  readonly source?: string
  readonly account?: string
  readonly stream?: string
  readonly reason?: string
  /** Only letters written at or after this time (epoch ms). */
  readonly since?: number
  /** Only these letter ids. */
  readonly ids?: ReadonlyArray<string>
  /** Include letters already replayed (listing only). */
  readonly includeReplayed?: boolean
}

/** Pending (or all) letters matching `selection`, oldest first (the warehouse does the filtering). */
export const selectLetters = (warehouse: Warehouse["Service"], selection: LetterSelection) => {
  const key: { source?: string; account?: string; stream?: string } = {}
  if (selection.source !== undefined) key.source = selection.source
  if (selection.account !== undefined) key.account = selection.account
  if (selection.stream !== undefined) key.stream = selection.stream
  return warehouse.listDeadLetters({
    key,
    ...(selection.reason === undefined ? {} : { reason: selection.reason }),
    ...(selection.since === undefined ? {} : { since: selection.since }),
    ...(selection.ids === undefined ? {} : { ids: selection.ids }),
    ...(selection.includeReplayed === true ? { includeReplayed: true } : {})
  })
}

/** One group of the listing: a source/account/stream and reason, with its newest letter. */
export interface LetterGroup {
  readonly source: string
  readonly account: string
  readonly stream: string
  readonly reason: string
  readonly count: number
  /** Of these, letters already replayed (only counted when listing includes them). */
  readonly replayed: number
  readonly oldestAt: number
  readonly newestAt: number
  /** The newest letter: its id, record id, detail and origin (never its payload). */
  readonly newest: {
    readonly id: string
    readonly sourceId: string | null
    readonly detail: string
    readonly origin: string
  }
}

/** Groups letters by source, account, stream and reason (largest groups first). */
export const groupLetters = (letters: ReadonlyArray<StoredDeadLetter>): ReadonlyArray<LetterGroup> => {
  const groups = new Map<string, { group: LetterGroup; newest: StoredDeadLetter }>()
  for (const l of letters) {
    const id = JSON.stringify([l.key.source, l.key.account, l.key.stream, l.reason])
    const seen = groups.get(id)
    const newest = seen === undefined || l.at >= seen.newest.at ? l : seen.newest
    groups.set(id, {
      newest,
      group: {
        source: l.key.source,
        account: l.key.account,
        stream: l.key.stream,
        reason: l.reason,
        count: (seen?.group.count ?? 0) + 1,
        replayed: (seen?.group.replayed ?? 0) + (l.replayedAt === null ? 0 : 1),
        oldestAt: Math.min(seen?.group.oldestAt ?? l.at, l.at),
        newestAt: newest.at,
        newest: {
          id: newest.id,
          sourceId: newest.sourceId,
          detail: newest.detail,
          origin: newest.origin
        }
      }
    })
  }
  return [...groups.values()]
    .map((g) => g.group)
    .sort(
      (a, b) =>
        b.count - a.count ||
        `${a.source}/${a.account}/${a.stream}/${a.reason}`.localeCompare(
          `${b.source}/${b.account}/${b.stream}/${b.reason}`
        )
    )
}

/** What happened to one letter. */
export interface LetterOutcome {
  readonly id: string
  readonly key: StreamKey
  readonly sourceId: string | null
  readonly reason: string
  readonly status: "replayed" | "failed" | "would-replay" | "companion"
  /** Rows loaded (or, in a dry run, that would be loaded) per table. */
  readonly rows: Readonly<Record<string, number>>
  readonly error?: string
}

/** The summary of a replay. */
export interface ReplaySummary {
  readonly attempted: number
  readonly replayed: number
  readonly failed: number
  readonly dryRun: boolean
  readonly letters: ReadonlyArray<LetterOutcome>
}

/** Options of `replayLetters`. */
export interface ReplayOptions {
  readonly selection: LetterSelection
  readonly replayers: Replayers
  /** Decode and map only: nothing is loaded and no letter is marked. */
  readonly dryRun?: boolean
  /** Use this payload instead of the stored one (one letter, the record corrected by the operator). */
  readonly payloadOverride?: string
  /**
   * Corrected payloads by letter id (records as corrected upstream, many letters at once): a
   * letter named here replays this payload instead of its stored one.
   */
  readonly payloadOverrides?: ReadonlyMap<string, string>
}

const countRows = (rows: CanonicalRows): Record<string, number> =>
  Object.fromEntries(
    Object.entries(rows)
      .filter(([, list]) => (list?.length ?? 0) > 0)
      .map(([t, list]) => [t, list?.length ?? 0])
  )

/**
 * Replays the selected pending letters one by one (oldest first) and marks each replayed only
 * when all its rows loaded. Never fails for a bad letter: the summary says which failed and why.
 * Replayed records land in the raw lake (the `RawLake` in context) and `_kura_raw` first.
 */
export const replayLetters = Effect.fn("DeadLetterReplay.replayLetters")(function* (
  warehouse: Warehouse["Service"],
  options: ReplayOptions
) {
  const lake = yield* RawLake
  const letters = yield* selectLetters(warehouse, { ...options.selection, includeReplayed: false })
  const dryRun = options.dryRun === true
  const done = new Set<string>()
  const outcomes: Array<LetterOutcome> = []
  const pendingByKey = new Map<string, Array<StoredDeadLetter>>()
  // Companions (orphan items) are found among every pending letter of the key, selected or not.
  for (const l of yield* warehouse.listDeadLetters({ key: commonKey(letters) })) {
    const k = keyId(l.key)
    const list = pendingByKey.get(k) ?? []
    list.push(l)
    pendingByKey.set(k, list)
  }
  let replayed = 0
  let failed = 0
  // Load rejections go back through the warehouse's own replay, per stream and reason: its re-load
  // does not dead-letter a still-refused row a second time (a plain `load` would).
  const rejections = letters.filter((l) => LOAD_REJECTIONS.has(l.reason))
  const groups = new Map<string, StoredDeadLetter>()
  for (const l of rejections) groups.set(JSON.stringify([keyId(l.key), l.reason]), l)
  for (const first of groups.values()) {
    const members = rejections.filter((l) => keyId(l.key) === keyId(first.key) && l.reason === first.reason)
    // Exactly the selected letters of the group: the warehouse replays and marks each.
    // A load rejection replays its stored row: a corrected API payload does not apply to it.
    const overridden = (l: StoredDeadLetter) =>
      options.payloadOverride !== undefined || options.payloadOverrides?.has(l.id) === true
    const reload = members.filter((l) => !overridden(l))
    const filter = { key: first.key, reason: first.reason, ids: reload.map((l) => l.id) }
    const refused = dryRun ? members : members.filter(overridden)
    if (refused.length > 0) {
      for (const l of refused) {
        const unsupported = overridden(l)
        if (unsupported) failed++
        else replayed++
        outcomes.push({
          id: l.id,
          key: l.key,
          sourceId: l.sourceId,
          reason: l.reason,
          status: unsupported ? "failed" : "would-replay",
          rows: {},
          error: unsupported
            ? "Payload: a load rejection replays its stored row (fix the table, not the payload)"
            : "not checked in a dry run (the table decides when it loads the row)"
        })
      }
      if (dryRun || reload.length === 0) continue
    }
    yield* warehouse.replayDeadLetters(filter)
    for (const l of yield* warehouse.listDeadLetters({ ...filter, includeReplayed: true })) {
      const ok = l.replayedAt !== null
      if (ok) replayed++
      else failed++
      outcomes.push({
        id: l.id,
        key: l.key,
        sourceId: l.sourceId,
        reason: l.reason,
        status: ok ? "replayed" : "failed",
        rows: ok ? { [l.key.stream]: 1 } : {},
        ...(ok ? {} : { error: `Load: the ${l.key.stream} table still refuses the row: ${l.detail}` })
      })
    }
  }
  for (const letter of letters) {
    if (done.has(letter.id) || LOAD_REJECTIONS.has(letter.reason)) continue
    const now = yield* Clock.currentTimeMillis
    const attempt = Effect.gen(function* () {
      const text = options.payloadOverrides?.get(letter.id) ?? options.payloadOverride ?? letter.payload
      const payload = yield* Effect.try({
        try: (): unknown => JSON.parse(text),
        catch: () => new ReplayFailed({ reason: "Payload", message: "the payload is not JSON" })
      })
      const replayer =
        options.replayers[`${letter.key.source}/${letter.key.account}/${letter.key.stream}`] ??
        options.replayers[`${letter.key.source}/${letter.key.stream}`]
      if (replayer === undefined)
        return yield* new ReplayFailed({
          reason: "NoHandler",
          message: `no replay for ${letter.key.source}/${letter.key.stream} letters (reason ${letter.reason}); re-sync the stream instead`
        })
      const outcome = yield* replayer.replay(letter, payload, {
        warehouse,
        syncedAt: new Date(now).toISOString(),
        batchId: `replay-${letter.id}`,
        pending: (pendingByKey.get(keyId(letter.key)) ?? []).filter((l) => !done.has(l.id))
      })
      return { outcome, raw: outcome.raw ?? [payload] }
    })
    const loaded = attempt.pipe(
      Effect.flatMap(({ outcome, raw }) =>
        dryRun
          ? Effect.succeed(outcome)
          : Effect.gen(function* () {
              yield* landRaw(lake, warehouse, letter, raw, now)
              for (const [table, rows] of Object.entries(outcome.rows) as Array<
                [CanonicalTableName, ReadonlyArray<Readonly<Record<string, unknown>>>]
              >) {
                if (rows.length === 0) continue
                const result = yield* warehouse
                  .load(table, rows, { origin: `replay of dead letter ${letter.id}` })
                  .pipe(Effect.mapError((e) => new ReplayFailed({ reason: "Load", message: e.message })))
                if (result.deadLettered > 0)
                  return yield* new ReplayFailed({
                    reason: "Load",
                    message: `${result.deadLettered} ${table} row(s) refused again (see the newest ${table} letters)`
                  })
              }
              return outcome
            })
      )
    )
    const result = yield* Effect.result(loaded)
    if (result._tag === "Success") {
      const companions = (result.success.companions ?? []).filter((id) => id !== letter.id && !done.has(id))
      if (!dryRun) yield* warehouse.markDeadLetters([letter.id, ...companions], "replayed", now)
      done.add(letter.id)
      replayed++
      outcomes.push({
        id: letter.id,
        key: letter.key,
        sourceId: letter.sourceId,
        reason: letter.reason,
        status: dryRun ? "would-replay" : "replayed",
        rows: countRows(result.success.rows)
      })
      for (const id of companions) {
        done.add(id)
        const c = (pendingByKey.get(keyId(letter.key)) ?? []).find((l) => l.id === id)
        if (c !== undefined)
          outcomes.push({
            id,
            key: c.key,
            sourceId: c.sourceId,
            reason: c.reason,
            status: "companion",
            rows: {}
          })
      }
    } else {
      if (!dryRun) yield* warehouse.markDeadLetters([letter.id], "failed")
      failed++
      outcomes.push({
        id: letter.id,
        key: letter.key,
        sourceId: letter.sourceId,
        reason: letter.reason,
        status: "failed",
        rows: {},
        error: `${result.failure.reason}: ${result.failure.message}`
      })
    }
  }
  // Lines that loaded before a replayed product's variants name only an inventory item, and their
  // own records may never be read again (Stocky's history is frozen): they are linked now.
  if (!dryRun) {
    const shops = new Set(
      outcomes
        .filter((o) => o.status === "replayed" && o.key.source === "shopify" && (o.rows.variants ?? 0) > 0)
        .map((o) => o.key.account)
    )
    for (const shop of shops) yield* relinkVariants(warehouse, shop)
  }
  return {
    attempted: replayed + failed,
    replayed,
    failed,
    dryRun,
    letters: outcomes
  } satisfies ReplaySummary
})

/**
 * Lands a replayed record as the stream would have: a lake batch named after the letter (the
 * same name again if a failed replay is retried), then `_kura_raw`, where it replaces a stored
 * copy of the same record version.
 */
const landRaw = (
  lake: RawLake["Service"],
  warehouse: Warehouse["Service"],
  letter: StoredDeadLetter,
  records: ReadonlyArray<unknown>,
  now: number
) =>
  Effect.gen(function* () {
    if (records.length === 0) return
    const lines = records.map(toJsonLine)
    const batch = yield* lake.writeBatch({
      key: letter.key,
      batchId: `replay-${letter.id}`,
      lines: Stream.fromIterable(lines)
    })
    yield* RawLoader.loadRawBatch({
      warehouse,
      key: letter.key,
      batch,
      lines: Stream.fromIterable(lines),
      fetchedAt: new Date(now).toISOString(),
      supersede: true
    })
  }).pipe(
    Effect.mapError(
      (e) => new ReplayFailed({ reason: "Load", message: `the raw lake or _kura_raw: ${e.message}` })
    )
  )

const keyId = (key: StreamKey) => JSON.stringify([key.source, key.account, key.stream])

/** The narrowest key filter covering every letter (one key when they share it, else none). */
const commonKey = (letters: ReadonlyArray<StoredDeadLetter>): Partial<StreamKey> => {
  const first = letters[0]
  if (first === undefined) return {}
  const same = (f: keyof StreamKey) => letters.every((l) => l.key[f] === first.key[f])
  return {
    ...(same("source") ? { source: first.key.source } : {}),
    ...(same("account") ? { account: first.key.account } : {}),
    ...(same("stream") ? { stream: first.key.stream } : {})
  }
}
