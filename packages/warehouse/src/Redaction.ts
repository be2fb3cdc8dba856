/**
 * Erasure of personal data (GDPR Art. 17, CCPA; Shopify's `customers/redact` and `shop/redact`)
 * everywhere Kura stored it: the canonical tables (columns flagged `pii`), the `_kura_raw` replay
 * table, the dead letters and the raw lake's files. Every request is written to the
 * `_kura_redactions` ledger, which proves what was done and lets `reapply` redact a customer's
 * records again when a later sync or replay brings them back.
 */
import { createHash } from "node:crypto"
import { createGzip } from "node:zlib"
import { Clock, Context, Effect, Layer, Schema, Stream } from "effect"
import { nodeTransform } from "./internal/nodeTransform.js"
import {
  makeSubject,
  mayMention,
  rewriteLine,
  type Subject,
  subjectTokens
} from "./internal/redactionPayload.js"
import * as RSql from "./internal/redactionSql.js"
import { parseLakePath, utcDay } from "./LakePath.js"
import { ObjectStore, ObjectStoreError } from "./ObjectStore.js"
import { make as makeLake } from "./RawLake.js"
import { CanonicalTables, RawTable, StateTables } from "./Tables.js"
import { Warehouse } from "./Warehouse.js"

/** The marker a redacted personal string gets where the source's schema requires a value (`displayName`). */
export { REDACTED } from "./internal/redactionPayload.js"

/** A redaction could not be done; `reason` says why. */
export class RedactionError extends Schema.TaggedError<RedactionError>()("RedactionError", {
  reason: Schema.Literals(["InvalidInput", "NotConfirmed", "Warehouse", "Lake", "Credentials"]),
  message: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {}

/** Who asked: the command line, a Shopify compliance webhook, or a program. */
export type RedactionTrigger = "cli" | "webhook" | "api"

/** The kinds of ledger entries. */
export type RedactionKind = "customer" | "shop" | "data_request"

/** One customer's erasure request. At least one of `customerId` and `email` is required. */
export interface RedactCustomerInput {
  readonly source: string
  readonly sourceAccount: string
  /** The customer's id in its source (Shopify: the numeric id or its gid). */
  readonly customerId?: string
  /** For sources that know the customer only by e-mail; also matches stored e-mail values. */
  readonly email?: string
  /** Orders the request names (Shopify `orders_to_redact`), redacted even without a customer link. */
  readonly orderIds?: ReadonlyArray<string>
  /** When the request was made (epoch ms); default now. */
  readonly requestedAt?: number
  readonly trigger?: RedactionTrigger
  /** The webhook event id or the data request id, kept in the ledger. */
  readonly requestId?: string
}

/** An account's erasure (`shop/redact`): every row and lake file of it. */
export interface RedactShopInput {
  readonly source: string
  readonly sourceAccount: string
  /** Must be true: the deletion cannot be undone. */
  readonly confirm: boolean
  readonly requestedAt?: number
  readonly trigger?: RedactionTrigger
  readonly requestId?: string
}

/** Lifting an account's erasure once the merchant reinstalled the app: it may be synced again. */
export interface ReinstateShopInput {
  readonly source: string
  readonly sourceAccount: string
  /** Must be true: the next sync collects the account's data again. */
  readonly confirm: boolean
  readonly trigger?: RedactionTrigger
}

/**
 * Where the ledger's version marker lives in the object store (outside the lake's partitions):
 * rewritten with a fresh token after every new request is recorded, so a process that keeps a
 * copy of the ledger (kura-sync serve's webhook guard, the runner's erased-shop check) knows with
 * one small read whether its copy is still current, instead of reusing it for a fixed time.
 */
export const LEDGER_MARKER_PATH = "_kura/redaction-ledger.version"

/**
 * The ledger's erased accounts: its shop entries not reinstated (pending, failed and done alike,
 * since a pending or failed erasure is one the merchant asked for). Syncing them would collect
 * again what the merchant asked to erase.
 */
export const erasedAccounts = (entries: ReadonlyArray<RedactionEntry>): ReadonlyArray<RedactionEntry> =>
  entries.filter((e) => e.kind === "shop" && e.status !== "reinstated")

/**
 * A customer's request for their data (`customers/data_request`): recorded, never answered by
 * Kura. It names the customer as an erasure request does.
 */
export type DataRequestInput = RedactCustomerInput

/** What one pass changed. */
export interface RedactionOutcome {
  readonly id: string
  readonly kind: RedactionKind
  readonly status: "done" | "recorded"
  /** Warehouse rows changed (or deleted) by this pass, per table. */
  readonly tables: Readonly<Record<string, number>>
  readonly rowsChanged: number
  /** Lake files rewritten (or deleted) by this pass. */
  readonly files: ReadonlyArray<string>
  readonly filesChanged: number
}

/** One `_kura_redactions` ledger entry. */
export interface RedactionEntry {
  readonly id: string
  readonly kind: RedactionKind
  readonly trigger: RedactionTrigger
  readonly source: string
  readonly sourceAccount: string
  readonly customerId: string | null
  readonly emailSha256: string | null
  readonly orderIds: ReadonlyArray<string>
  readonly requestId: string | null
  readonly requestedAt: number
  readonly appliedAt: number | null
  /**
   * `reinstated`: a shop entry whose erasure an operator lifted after the merchant reinstalled the
   * app (`reinstateShop`); the row stays as the proof of the erasure, and the account may be synced.
   */
  readonly status: "pending" | "done" | "failed" | "recorded" | "reinstated"
  /** Totals over every pass (the first application and each re-application). */
  readonly rowsChanged: number
  readonly filesChanged: number
  readonly detail: string | null
  readonly createdAt: number
  readonly updatedAt: number
}

/**
 * Records fetched this long before a redaction's last application are looked at again by
 * `reapply`: a sync pass that fetched before the request may land after it.
 */
export const REAPPLY_MARGIN_MS = 86_400_000

/** Limits of the set-based statements (BigQuery caps a request at 10 MB and 10,000 parameters). */
export interface RedactionOptions {
  /** Rows whose payload one UPDATE replaces at most (default 500: 2,002 parameters). */
  readonly maxStatementRows?: number
  /** Payload characters one UPDATE carries at most (default 4,000,000; a single larger payload goes alone). */
  readonly maxStatementBytes?: number
  /**
   * How long `redactCustomer` waits between recording the request in the ledger and reading what
   * to redact (default 0). Only for a process that keeps a copy of the ledger for a fixed time
   * without checking {@link LEDGER_MARKER_PATH} (kura-sync before session 11: 10 s): set it above
   * that time, so a batch such a process lands without seeing the new entry was landed before
   * this pass reads. kura-sync's guard now checks the marker, so kura-sync sets none.
   */
  readonly settleMs?: number
  /**
   * Erases an account's credentials kept outside the warehouse (the file token store), for
   * `redactShop`: called with a test of a credential key (see {@link isAccountCredential});
   * resolves to the keys removed. `_kura_tokens` is always cleared by `redactShop` itself.
   */
  readonly eraseCredentials?: (
    isAccounts: (key: string) => boolean
  ) => Effect.Effect<ReadonlyArray<string>, { readonly message: string }>
}

/**
 * Whether a token store key is a credential of this account: its first `:`-separated part is the
 * source and its last the account (`shopify:<shop>`, `shopify:<client id>:<shop>`,
 * `lightspeed:<client id>:<business>`), so an erased shop keeps no token with us.
 */
export const isAccountCredential = (key: string, source: string, sourceAccount: string): boolean => {
  const parts = key.split(":")
  return parts.length >= 2 && parts[0] === source && parts[parts.length - 1] === sourceAccount
}

/** The `tables` entry of a shop erasure's outcome counting the credentials removed from the file token store. */
export const TOKEN_FILE_ENTRY = "token file"

/** The redaction service. */
export class Redaction extends Context.Service<
  Redaction,
  {
    /**
     * Erases one customer's personal data: nulls the `pii` columns of their canonical rows
     * (ids, money and counts stay, so revenue and reconciliation still tie), and rewrites every
     * `_kura_raw` row, dead letter and lake line that belongs to them with the personal fields
     * nulled. Each lake file is replaced atomically. Idempotent: a second run changes nothing.
     */
    readonly redactCustomer: (input: RedactCustomerInput) => Effect.Effect<RedactionOutcome, RedactionError>
    /**
     * Deletes every row of an account from every table, its whole lake prefix and its stored OAuth
     * tokens (`_kura_tokens`, and the file token store through `eraseCredentials`). Needs `confirm`.
     */
    readonly redactShop: (input: RedactShopInput) => Effect.Effect<RedactionOutcome, RedactionError>
    /**
     * Lifts an account's erasure after the merchant reinstalled the app: its shop entry becomes
     * `reinstated` (kept as the proof, with when and by whom in `detail`), so it is synced again.
     * Needs `confirm`; fails with `InvalidInput` when the account was never erased.
     */
    readonly reinstateShop: (input: ReinstateShopInput) => Effect.Effect<RedactionEntry, RedactionError>
    /**
     * The ledger's version token ({@link LEDGER_MARKER_PATH}; undefined before the first request):
     * it changes whenever a request is recorded, so a copy of the ledger read after the same
     * token is current.
     */
    readonly ledgerVersion: Effect.Effect<string | undefined, RedactionError>
    /** Records a data request in the ledger (the merchant must answer it; Kura does not). */
    readonly recordDataRequest: (input: DataRequestInput) => Effect.Effect<RedactionOutcome, RedactionError>
    /**
     * Re-applies every customer redaction of the ledger (optionally one account's) to what was
     * loaded since it was last applied (less {@link REAPPLY_MARGIN_MS}): canonical rows, raw rows
     * and dead letters, and the lake files of that period. Run it after each sync pass.
     */
    readonly reapply: (filter?: {
      readonly source?: string
      readonly sourceAccount?: string
    }) => Effect.Effect<ReadonlyArray<RedactionOutcome>, RedactionError>
    /**
     * Re-applies to one just-landed batch (its `_kura_raw` rows, the lake files they name, and the
     * canonical rows and dead letters of the people found) the account's customer entries whose
     * person the batch's texts mention: a webhook accepted before an erasure, delivered again by
     * Shopify after it, or replayed from the write-ahead log days later, whatever its time.
     * `entries`: the ledger as the caller last read it (default: read now); entries that match are
     * read again before they are written. An entry's `appliedAt` does not move (only a whole pass
     * moves it). `lakePaths`: lake files the batch wrote that no `_kura_raw` row names (a landing
     * that writes the lake only); they are rewritten too. Resolves to the outcomes of the entries
     * applied (none when nobody erased is named).
     */
    readonly reapplyLanded: (input: {
      readonly source: string
      readonly sourceAccount: string
      readonly batchId: string
      readonly texts: ReadonlyArray<string>
      readonly entries?: ReadonlyArray<RedactionEntry>
      readonly lakePaths?: ReadonlyArray<string>
    }) => Effect.Effect<ReadonlyArray<RedactionOutcome>, RedactionError>
    /** The ledger, oldest request first. */
    readonly list: Effect.Effect<ReadonlyArray<RedactionEntry>, RedactionError>
  }
>()("@kura/warehouse/Redaction") {
  /** Redaction over the Warehouse and ObjectStore in context. */
  static readonly layer: Layer.Layer<Redaction, never, Warehouse | ObjectStore> = Layer.effect(
    Redaction,
    Effect.gen(function* () {
      return makeRedaction(yield* Warehouse, yield* ObjectStore)
    })
  )
}

const warehouseError = (e: { readonly message: string }) =>
  new RedactionError({ reason: "Warehouse", message: e.message, cause: e })
const lakeError = (e: { readonly message: string }) =>
  new RedactionError({ reason: "Lake", message: e.message, cause: e })

/** SHA-256 of a lower-cased e-mail: the ledger proves which address was asked for without keeping it. */
export const emailSha256 = (email: string): string =>
  createHash("sha256").update(email.trim().toLowerCase()).digest("hex")

const enc = encodeURIComponent

/** The lake prefix holding every stream of one account. */
export const lakeAccountPrefix = (source: string, sourceAccount: string): string =>
  `source=${enc(source)}/account=${enc(sourceAccount)}/`

const encoder = new TextEncoder()

/**
 * Rewrites one lake file's lines through `rewrite` (undefined keeps a line byte for byte), if
 * any line changes. The new gzip NDJSON object replaces the old one through `ObjectStore.put`,
 * which makes it appear only once fully written: a failure in between leaves the old file. The
 * old version a versioned bucket keeps is then purged (`ObjectStore.purge`, live one kept).
 * Resolves to whether the file was replaced.
 */
export const rewriteLakeFile = (
  store: ObjectStore["Service"],
  path: string,
  rewrite: (line: string) => string | undefined
): Effect.Effect<boolean, ObjectStoreError> =>
  Effect.gen(function* () {
    const lake = makeLake(store)
    const changed = yield* lake.readLines(path).pipe(
      Stream.filter((line) => rewrite(line) !== undefined),
      Stream.take(1),
      Stream.runCount
    )
    if (changed === 0) return false
    const body = lake.readLines(path).pipe(
      Stream.rechunk(4096),
      Stream.mapArray(
        (chunk) => [encoder.encode(`${chunk.map((l) => rewrite(l) ?? l).join("\n")}\n`)] as const
      )
    )
    const gz = nodeTransform(
      body,
      () => createGzip({ level: 6 }),
      (cause) =>
        new ObjectStoreError({ reason: "Io", operation: "gzip", path, message: String(cause), cause })
    )
    yield* store.put(path, gz, { contentType: "application/x-ndjson" })
    // A versioned bucket kept the old bytes as a noncurrent generation: erased with it.
    if (store.purge !== undefined) yield* store.purge({ path }, { keepLive: true })
    return true
  })

const str = (v: unknown): string | null =>
  v === null || v === undefined ? null : typeof v === "string" ? v : String(v)
const num = (v: unknown): number | null => {
  const s = str(v)
  return s === null || s === "" ? null : Number(s)
}

const LedgerOrderIds = Schema.fromJsonString(Schema.Array(Schema.String))
const decodeOrderIds = Schema.decodeUnknownOption(LedgerOrderIds)

const Kinds = ["customer", "shop", "data_request"] as const
const Triggers = ["cli", "webhook", "api"] as const
const Statuses = ["pending", "done", "failed", "recorded", "reinstated"] as const
const oneOf = <const T extends ReadonlyArray<string>>(
  values: T,
  v: unknown,
  fallback: T[number]
): T[number] => values.find((x) => x === v) ?? fallback

const entryOf = (r: Readonly<Record<string, unknown>>): RedactionEntry => {
  const orderIds = str(r.order_ids)
  const ids = orderIds === null ? undefined : decodeOrderIds(orderIds)
  return {
    id: str(r.id) ?? "",
    kind: oneOf(Kinds, r.kind, "customer"),
    trigger: oneOf(Triggers, r.trigger, "api"),
    source: str(r.source) ?? "",
    sourceAccount: str(r.source_account) ?? "",
    customerId: str(r.customer_id),
    emailSha256: str(r.email_sha256),
    orderIds: ids !== undefined && ids._tag === "Some" ? ids.value : [],
    requestId: str(r.request_id),
    requestedAt: num(r.requested_at) ?? 0,
    appliedAt: num(r.applied_at),
    status: oneOf(Statuses, r.status, "pending"),
    rowsChanged: num(r.rows_changed) ?? 0,
    filesChanged: num(r.files_changed) ?? 0,
    detail: str(r.detail),
    createdAt: num(r.created_at) ?? 0,
    updatedAt: num(r.updated_at) ?? 0
  }
}

const ledgerParams = (e: RedactionEntry): Record<string, string | null> => ({
  id: e.id,
  kind: e.kind,
  trigger: e.trigger,
  source: e.source,
  source_account: e.sourceAccount,
  customer_id: e.customerId,
  email_sha256: e.emailSha256,
  order_ids: e.orderIds.length === 0 ? null : JSON.stringify(e.orderIds),
  request_id: e.requestId,
  requested_at: String(e.requestedAt),
  applied_at: e.appliedAt === null ? null : String(e.appliedAt),
  status: e.status,
  rows_changed: String(e.rowsChanged),
  files_changed: String(e.filesChanged),
  detail: e.detail,
  created_at: String(e.createdAt),
  updated_at: String(e.updatedAt)
})

/** An e-mail address in free text (webhook bodies), to be hashed and compared with the ledger's. */
const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g

const DIGITS = /\d+/g

const sum = (r: Readonly<Record<string, number>>) => Object.values(r).reduce((a, b) => a + b, 0)

/** Consecutive runs of `items`, each at most `maxRows` long and `maxBytes` by `size` (at least one item). */
const chunked = <A>(
  items: ReadonlyArray<A>,
  maxRows: number,
  maxBytes: number,
  size: (a: A) => number
): ReadonlyArray<ReadonlyArray<A>> => {
  const out: Array<Array<A>> = []
  let current: Array<A> = []
  let bytes = 0
  for (const item of items) {
    const n = size(item)
    if (current.length > 0 && (current.length >= maxRows || bytes + n > maxBytes)) {
      out.push(current)
      current = []
      bytes = 0
    }
    current.push(item)
    bytes += n
  }
  if (current.length > 0) out.push(current)
  return out
}

/** What one pass changed for one person. */
interface PassResult {
  readonly tables: Record<string, number>
  readonly files: Array<string>
}

/**
 * The `_kura_redactions` ledger read straight from a warehouse, oldest request first (what
 * `Redaction.list` returns), for a program that has no lake store at hand: kura-backfill checks
 * {@link erasedAccounts} with it before loading an account.
 */
export const readLedger = (
  warehouse: Warehouse["Service"]
): Effect.Effect<ReadonlyArray<RedactionEntry>, RedactionError> =>
  warehouse.query(RSql.selectLedger(warehouse.dialect, false), {}).pipe(
    Effect.map((rows) => rows.map(entryOf)),
    Effect.mapError(warehouseError)
  )

/** Builds the service over a warehouse and the lake's store. */
export const makeRedaction = (
  warehouse: Warehouse["Service"],
  store: ObjectStore["Service"],
  options: RedactionOptions = {}
): Redaction["Service"] => {
  const d = warehouse.dialect
  const maxRows = Math.max(1, options.maxStatementRows ?? 500)
  const maxBytes = Math.max(1, options.maxStatementBytes ?? 4_000_000)
  const settleMs = Math.max(0, options.settleMs ?? 0)

  // DuckDB refuses a parameter the statement does not name: pass only the ones it uses (read
  // from the statement once: a set-based UPDATE names thousands).
  const marker = d
    .param("x")
    .slice(0, -1)
    .replace(/[$@]/, (c) => `\\${c}`)
  const paramRef = new RegExp(`${marker}([A-Za-z_][A-Za-z0-9_]*)`, "g")
  const used = (sql: string, params: Readonly<Record<string, string | null>>) => {
    const names = new Set(Array.from(sql.matchAll(paramRef), (m) => m[1]))
    return Object.fromEntries(Object.entries(params).filter(([k]) => names.has(k)))
  }
  const run = (sql: string, params: Readonly<Record<string, string | null>>) =>
    warehouse.exclusive((x) => x.run(sql, used(sql, params))).pipe(Effect.mapError(warehouseError))
  const query = (sql: string, params: Readonly<Record<string, string | null>>) =>
    warehouse.query(sql, used(sql, params)).pipe(Effect.mapError(warehouseError))

  const readEntry = (id: string) =>
    Effect.map(query(RSql.selectLedger(d, true), { id }), (rows) =>
      rows[0] === undefined ? undefined : entryOf(rows[0])
    )

  /** Writes ledger rows (one per request subject): one MERGE per 50 entries. */
  const writeEntries = (entries: ReadonlyArray<RedactionEntry>) =>
    warehouse
      .exclusive((x) =>
        Effect.forEach(
          chunked(entries, 50, Number.POSITIVE_INFINITY, () => 1),
          (chunk) => {
            const params: Record<string, string | null> = {}
            chunk.forEach((e, i) => {
              for (const [k, v] of Object.entries(ledgerParams(e))) params[`${k}_${i}`] = v
            })
            return x.run(RSql.upsertLedgerRows(d, chunk.length), params)
          },
          { discard: true }
        )
      )
      .pipe(Effect.mapError(warehouseError))
  const writeEntry = (e: RedactionEntry) => writeEntries([e])

  /**
   * A new token in the ledger's marker, after a request was recorded: a copy of the ledger read
   * under the old token is stale from now on. Fails the request if it cannot be written (the
   * entry stays pending and the request is retried), since another process could miss it.
   */
  const touchMarker = (id: string) =>
    Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const token = `${now}:${Math.random().toString(36).slice(2, 10)}:${id}`
      yield* store
        .put(LEDGER_MARKER_PATH, Stream.make(encoder.encode(token)), { contentType: "text/plain" })
        .pipe(Effect.mapError(lakeError))
    })

  const ledgerVersion = Stream.mkString(Stream.decodeText(store.get(LEDGER_MARKER_PATH))).pipe(
    Effect.map((t): string | undefined => t),
    Effect.catchIf(
      (e) => e.reason === "NotFound",
      () => Effect.succeed(undefined)
    ),
    Effect.mapError(lakeError)
  )

  /**
   * Runs one pass for several entries of one account and records how it ended in the ledger:
   * failed with the error's message (the error is passed on), or done with what each entry's
   * person changed added to its totals. `done[i]` adds fields learnt by the work (an e-mail
   * request's resolved customer ids).
   */
  const settle = (
    entries: ReadonlyArray<RedactionEntry>,
    now: number,
    work: Effect.Effect<ReadonlyArray<PassResult>, RedactionError>,
    done: ReadonlyArray<Partial<RedactionEntry>> = [],
    partial = false
  ): Effect.Effect<ReadonlyArray<RedactionOutcome>, RedactionError> =>
    Effect.gen(function* () {
      const result = yield* Effect.result(work)
      if (result._tag === "Failure") {
        yield* writeEntries(
          entries.map((e) => ({ ...e, status: "failed", detail: result.failure.message, updatedAt: now }))
        )
        return yield* result.failure
      }
      const outcomes: Array<RedactionOutcome> = []
      const next: Array<RedactionEntry> = []
      entries.forEach((entry, i) => {
        const { tables, files } = result.success[i] ?? { tables: {}, files: [] }
        const rows = sum(tables)
        next.push({
          ...entry,
          ...done[i],
          // A pass over one batch completes nothing else: reapply's window stays where it was.
          ...(partial ? {} : { status: "done", appliedAt: now, detail: null }),
          rowsChanged: entry.rowsChanged + rows,
          filesChanged: entry.filesChanged + files.length,
          updatedAt: now
        })
        outcomes.push({
          id: entry.id,
          kind: entry.kind,
          status: "done",
          tables,
          rowsChanged: rows,
          files,
          filesChanged: files.length
        })
      })
      yield* writeEntries(next)
      return outcomes
    })

  /** The subject with the customers found by e-mail added. */
  const resolveSubject = (source: string, account: string, subject: Subject, emails: ReadonlyArray<string>) =>
    Effect.gen(function* () {
      if (emails.length === 0) return subject
      const list = RSql.listParams(d, "e", [...subject.emails])
      const rows = yield* query(RSql.customerIdsByEmail(d, list.sql), { source, account, ...list.params })
      const found = rows.flatMap((r) => (str(r.id) === null ? [] : [str(r.id)!]))
      return found.length === 0
        ? subject
        : makeSubject({
            customerIds: [...subject.customerIds, ...found],
            emails: [...subject.emails],
            orderIds: [...subject.orderIds]
          })
    })

  /**
   * One pass over everything of an account that may hold the data of any of `subjects` (one per
   * ledger entry), whatever their number: per canonical table one counting read and an UPDATE only
   * for the persons it found; one candidate read and bounded set-based UPDATEs for `_kura_raw` and
   * the dead letters; one listing and one read of each lake file. `since`: only raw rows fetched
   * from then and lake partitions of that day on (plus the raw rows' own files). `writtenSince`
   * (the last application): also every lake file written from then, whatever its day, and the raw
   * rows loaded from such a file that names a subject, whatever their fetch time: a page loaded
   * long after it was fetched, a backfill window's file filed under its old day. What changed is
   * attributed to the subject whose tokens it mentions (a record of two persons counts for the first).
   */
  const applyCustomers = (
    source: string,
    account: string,
    subjects: ReadonlyArray<Subject>,
    since: number | undefined,
    batchId?: string,
    writtenSince?: number,
    lakePaths: ReadonlyArray<string> = []
  ) =>
    Effect.gen(function* () {
      const per: Array<PassResult> = subjects.map(() => ({ tables: {}, files: [] }))
      const add = (k: number, table: string, n: number) => {
        const t = per[k]!.tables
        if (n > 0) t[table] = (t[table] ?? 0) + n
      }
      const lists = subjects.map((s, k) => ({
        c: RSql.listParams(d, `c${k}_`, [...s.customerIds]),
        o: RSql.listParams(d, `o${k}_`, [...s.orderIds]),
        m: RSql.listParams(d, `m${k}_`, [...s.emails])
      }))
      const base: Record<string, string | null> = { source, account }
      for (const l of lists) Object.assign(base, l.c.params, l.o.params, l.m.params)
      for (const table of Object.values(CanonicalTables)) {
        if (RSql.piiColumns(table).length === 0) continue
        const scope = RSql.customerScopes[table.name]
        if (scope === undefined) continue
        const scopes = lists.map((l) => scope(d, l.c.sql, l.o.sql, l.m.sql))
        const [counts] = yield* query(RSql.countPii(d, table, scopes), base)
        for (const [k, sc] of scopes.entries())
          if ((num(counts?.[`n${k}`]) ?? 0) > 0)
            add(k, table.name, yield* run(RSql.nullPii(d, table, sc), base))
      }
      const union = makeSubject({
        customerIds: subjects.flatMap((s) => [...s.customerIds]),
        emails: subjects.flatMap((s) => [...s.emails]),
        orderIds: subjects.flatMap((s) => [...s.orderIds])
      })
      const tokens = subjectTokens(union)
      const tokensOf = subjects.map(subjectTokens)
      const ownerOf = (text: string) =>
        Math.max(
          0,
          tokensOf.findIndex((t) => mayMention(text, t))
        )
      const like = RSql.likeParams(tokens)
      // A lake-only landing's files: no raw row names them.
      const files = new Set<string>(lakePaths)
      // Raw rows already rewritten by this pass (stream, id, updated_at), once each.
      const rawDone = new Set<string>()
      /** Rewrites the candidate raw rows that hold a subject's data; adds the files they name. */
      const redactRaw = (raw: ReadonlyArray<Readonly<Record<string, unknown>>>) =>
        Effect.gen(function* () {
          const rawUpdates = new Map<
            string,
            { stream: string; id: string | null; updatedAt: string | null; payload: string; owner: number }
          >()
          for (const r of raw) {
            const payload = str(r.payload)
            if (payload === null) continue
            const stream = str(r.stream) ?? ""
            const next = rewriteLine(payload, union, tokens, stream)
            const lakePath = str(r.lake_path)
            if (lakePath !== null && mayMention(payload, tokens)) files.add(lakePath)
            if (next === undefined) continue
            const id = str(r.source_id)
            const updatedAt = str(r.updated_at)
            // One entry per key: BigQuery refuses a target row that two source rows match.
            const key = JSON.stringify([stream, id, updatedAt])
            if (!rawUpdates.has(key) && !rawDone.has(key)) {
              rawDone.add(key)
              rawUpdates.set(key, { stream, id, updatedAt, payload: next, owner: ownerOf(payload) })
            }
          }
          for (const chunk of chunked([...rawUpdates.values()], maxRows, maxBytes, (u) => u.payload.length)) {
            const params: Record<string, string | null> = { source, account }
            chunk.forEach((u, i) => {
              params[`r${i}_stream`] = u.stream
              params[`r${i}_source_id`] = u.id
              params[`r${i}_updated_at`] = u.updatedAt
              params[`r${i}_payload`] = u.payload
            })
            const n = yield* run(RSql.updateRawPayloads(d, chunk.length), params)
            // Rows a concurrent write removed meanwhile are not counted.
            for (const u of chunk.slice(0, n)) add(u.owner, RawTable.name, 1)
          }
        })
      if (tokens.length > 0) {
        const sinceParam = since === undefined ? {} : { since: new Date(since).toISOString() }
        yield* redactRaw(
          yield* query(RSql.rawCandidates(d, tokens.length, since !== undefined, batchId !== undefined), {
            source,
            account,
            ...like,
            ...sinceParam,
            ...(batchId === undefined ? {} : { batch: batchId })
          })
        )
        const letters = yield* query(RSql.deadLetterCandidates(d, tokens.length), {
          source,
          account,
          ...like
        })
        const letterUpdates = new Map<string, { id: string; payload: string; owner: number }>()
        for (const l of letters) {
          const payload = str(l.payload)
          const id = str(l.id)
          if (payload === null || id === null) continue
          const next = rewriteLine(payload, union, tokens, str(l.stream) ?? "")
          if (next !== undefined && !letterUpdates.has(id))
            letterUpdates.set(id, { id, payload: next, owner: ownerOf(payload) })
        }
        for (const chunk of chunked(
          [...letterUpdates.values()],
          maxRows,
          maxBytes,
          (u) => u.payload.length
        )) {
          const params: Record<string, string | null> = {}
          chunk.forEach((u, i) => {
            params[`l${i}_id`] = u.id
            params[`l${i}_payload`] = u.payload
          })
          const n = yield* run(RSql.updateDeadLetterPayloads(d, chunk.length), params)
          for (const u of chunk.slice(0, n)) add(u.owner, StateTables.deadLetters.name, 1)
        }
      }
      // One landed batch: its raw rows name its lake files, no listing needed.
      const listed =
        batchId !== undefined
          ? []
          : yield* store.list(lakeAccountPrefix(source, account)).pipe(Effect.mapError(lakeError))
      const fromDay = since === undefined ? undefined : utcDay(since)
      // Files written since the last application, whatever their day (a store that does not say
      // when an object was written leaves only the day rule).
      const written = new Set<string>()
      for (const o of listed) {
        const loc = parseLakePath(o.path)
        if (loc === undefined) continue
        if (writtenSince !== undefined && o.updatedAt !== undefined && o.updatedAt >= writtenSince) {
          written.add(o.path)
          files.add(o.path)
        } else if (fromDay === undefined || loc.dt >= fromDay) files.add(o.path)
      }
      // Written since and naming a subject: their raw rows are looked up whatever their fetch time.
      const late: Array<string> = []
      if (tokens.length > 0)
        for (const path of [...files].sort()) {
          const stream = parseLakePath(path)?.key.stream ?? ""
          const owners = new Set<number>()
          let named = false
          const done = yield* rewriteLakeFile(store, path, (line) => {
            if (!named && written.has(path) && mayMention(line, tokens)) named = true
            const next = rewriteLine(line, union, tokens, stream)
            if (next !== undefined)
              for (const [k, t] of tokensOf.entries()) if (mayMention(line, t)) owners.add(k)
            return next
          }).pipe(
            // A file the raw table names may since have been removed by lake retention.
            Effect.catchIf(
              (e) => e.reason === "NotFound",
              () => Effect.succeed(false)
            ),
            Effect.mapError(lakeError)
          )
          if (done) for (const k of owners.size === 0 ? [0] : owners) per[k]!.files.push(path)
          if (named || (done && written.has(path))) late.push(path)
        }
      for (const chunk of chunked(late, maxRows, Number.POSITIVE_INFINITY, () => 1)) {
        const list = RSql.listParams(d, "f", chunk)
        yield* redactRaw(
          yield* query(RSql.rawCandidatesInFiles(d, tokens.length, list.sql), {
            source,
            account,
            ...like,
            ...list.params
          })
        )
      }
      return per
    })

  const validate = (input: { readonly source: string; readonly sourceAccount: string }) =>
    input.source.trim() === "" || input.sourceAccount.trim() === ""
      ? Effect.fail(
          new RedactionError({
            reason: "InvalidInput",
            message: "source and sourceAccount are required (e.g. shopify and the shop domain)"
          })
        )
      : Effect.void

  const customerKey = (input: { readonly customerId?: string; readonly email?: string }) =>
    input.customerId !== undefined && input.customerId.trim() !== ""
      ? input.customerId.trim().replace(/^gid:\/\/shopify\/Customer\//, "")
      : `email-${emailSha256(input.email ?? "").slice(0, 16)}`

  const redactCustomer = Effect.fn("Redaction.redactCustomer")(function* (input: RedactCustomerInput) {
    yield* validate(input)
    const customerId = input.customerId?.trim() ?? ""
    const email = input.email?.trim() ?? ""
    if (customerId === "" && email === "")
      return yield* new RedactionError({
        reason: "InvalidInput",
        message:
          "a customer redaction needs the customer's id (customerId / --id) or e-mail (email / --email)"
      })
    const now = yield* Clock.currentTimeMillis
    const id = `customer:${input.source}:${input.sourceAccount}:${customerKey(input)}`
    const previous = yield* readEntry(id)
    const entry: RedactionEntry = {
      id,
      kind: "customer",
      trigger: previous?.trigger ?? input.trigger ?? "api",
      source: input.source,
      sourceAccount: input.sourceAccount,
      customerId: customerId === "" ? null : customerId,
      emailSha256: email === "" ? (previous?.emailSha256 ?? null) : emailSha256(email),
      orderIds: [...new Set([...(previous?.orderIds ?? []), ...(input.orderIds ?? [])])],
      requestId: input.requestId ?? previous?.requestId ?? null,
      requestedAt: previous?.requestedAt ?? input.requestedAt ?? now,
      appliedAt: previous?.appliedAt ?? null,
      status: previous?.status === "done" ? "done" : "pending",
      rowsChanged: previous?.rowsChanged ?? 0,
      filesChanged: previous?.filesChanged ?? 0,
      detail: previous?.detail ?? null,
      createdAt: previous?.createdAt ?? now,
      updatedAt: now
    }
    // Recorded before the work, so a crash mid-way leaves a pending entry for `reapply`.
    yield* writeEntry(entry)
    // Another process's copy of the ledger (without this entry) is stale from here on: a batch it
    // lands and checks after this is checked against a fresh copy; one checked before it was
    // landed before this pass reads, so the pass erases it.
    yield* touchMarker(id)
    if (settleMs > 0) yield* Effect.sleep(settleMs)
    const subject = yield* resolveSubject(
      input.source,
      input.sourceAccount,
      makeSubject({
        customerIds: customerId === "" ? [] : [customerId],
        emails: email === "" ? [] : [email],
        orderIds: entry.orderIds
      }),
      email === "" ? [] : [email]
    )
    // An e-mail request keeps the ids it resolved to: the e-mail itself is nulled and not kept.
    const resolved = [...subject.customerIds].filter((c) => !c.startsWith("gid://"))
    const [outcome] = yield* settle(
      [entry],
      now,
      applyCustomers(input.source, input.sourceAccount, [subject], undefined),
      [{ customerId: entry.customerId ?? (resolved.length === 0 ? null : resolved.join(",")) }]
    )
    return outcome!
  })

  const redactShop = Effect.fn("Redaction.redactShop")(function* (input: RedactShopInput) {
    yield* validate(input)
    if (!input.confirm)
      return yield* new RedactionError({
        reason: "NotConfirmed",
        message: `deleting every row and lake file of ${input.source} account ${input.sourceAccount} cannot be undone: confirm it (--yes)`
      })
    const now = yield* Clock.currentTimeMillis
    const id = `shop:${input.source}:${input.sourceAccount}`
    const previous = yield* readEntry(id)
    const entry: RedactionEntry = {
      id,
      kind: "shop",
      trigger: previous?.trigger ?? input.trigger ?? "api",
      source: input.source,
      sourceAccount: input.sourceAccount,
      customerId: null,
      emailSha256: null,
      orderIds: [],
      requestId: input.requestId ?? previous?.requestId ?? null,
      requestedAt: previous?.requestedAt ?? input.requestedAt ?? now,
      appliedAt: previous?.appliedAt ?? null,
      status: "pending",
      rowsChanged: previous?.rowsChanged ?? 0,
      filesChanged: previous?.filesChanged ?? 0,
      detail: null,
      createdAt: previous?.createdAt ?? now,
      updatedAt: now
    }
    yield* writeEntry(entry)
    // Processes that check the marker stop syncing and landing the account from here on.
    yield* touchMarker(id)
    const work = Effect.gen(function* () {
      const tables: Record<string, number> = {}
      for (const table of RSql.accountTables) {
        const n = yield* run(RSql.deleteAccount(d, table), {
          source: input.source,
          account: input.sourceAccount
        })
        if (n > 0) tables[table] = n
      }
      // The shop's OAuth tokens: an erased shop keeps no credential with us.
      const keys = (yield* query(RSql.selectTokenKeys(d), {}))
        .map((r) => str(r.key))
        .filter((k): k is string => k !== null && isAccountCredential(k, input.source, input.sourceAccount))
      if (keys.length > 0) {
        const list = RSql.listParams(d, "k", keys)
        const n = yield* run(RSql.deleteTokens(d, list.sql), list.params)
        if (n > 0) tables[StateTables.tokens.name] = n
      }
      if (options.eraseCredentials !== undefined) {
        const removed = yield* options
          .eraseCredentials((k) => isAccountCredential(k, input.source, input.sourceAccount))
          .pipe(
            Effect.mapError(
              (e) => new RedactionError({ reason: "Credentials", message: e.message, cause: e })
            )
          )
        if (removed.length > 0) tables[TOKEN_FILE_ENTRY] = removed.length
      }
      const prefix = lakeAccountPrefix(input.source, input.sourceAccount)
      // Every generation where the store keeps versions (noncurrent ones hold the bytes too).
      if (store.purge !== undefined) {
        const purged = yield* store.purge({ prefix }).pipe(Effect.mapError(lakeError))
        return [{ tables, files: [...purged.paths] }]
      }
      const objects = yield* store.list(prefix).pipe(Effect.mapError(lakeError))
      yield* Effect.forEach(objects, (o) => store.delete(o.path), { concurrency: 8, discard: true }).pipe(
        Effect.mapError(lakeError)
      )
      return [{ tables, files: objects.map((o) => o.path) }]
    })
    const [outcome] = yield* settle([entry], now, work)
    return outcome!
  })

  const reinstateShop = Effect.fn("Redaction.reinstateShop")(function* (input: ReinstateShopInput) {
    yield* validate(input)
    const id = `shop:${input.source}:${input.sourceAccount}`
    if (!input.confirm)
      return yield* new RedactionError({
        reason: "NotConfirmed",
        message: `lifting the erasure of ${input.source} account ${input.sourceAccount} lets the next sync collect its data again: confirm it (--yes) once the merchant has reinstalled the app`
      })
    const previous = yield* readEntry(id)
    if (previous === undefined)
      return yield* new RedactionError({
        reason: "InvalidInput",
        message: `${input.source} account ${input.sourceAccount} was never erased: there is nothing to reinstate`
      })
    const now = yield* Clock.currentTimeMillis
    const entry: RedactionEntry = {
      ...previous,
      status: "reinstated",
      detail: `reinstated ${new Date(now).toISOString()} by ${input.trigger ?? "api"} (the merchant reinstalled the app); erased ${previous.appliedAt === null ? "(never completed)" : new Date(previous.appliedAt).toISOString()}`,
      updatedAt: now
    }
    yield* writeEntry(entry)
    yield* touchMarker(id)
    return entry
  })

  const recordDataRequest = Effect.fn("Redaction.recordDataRequest")(function* (input: DataRequestInput) {
    yield* validate(input)
    const now = yield* Clock.currentTimeMillis
    const id = `data_request:${input.source}:${input.sourceAccount}:${input.requestId ?? customerKey(input)}`
    const previous = yield* readEntry(id)
    yield* writeEntry({
      id,
      kind: "data_request",
      trigger: previous?.trigger ?? input.trigger ?? "api",
      source: input.source,
      sourceAccount: input.sourceAccount,
      customerId: input.customerId ?? null,
      emailSha256: input.email === undefined ? null : emailSha256(input.email),
      orderIds: [...(input.orderIds ?? [])],
      requestId: input.requestId ?? null,
      requestedAt: previous?.requestedAt ?? input.requestedAt ?? now,
      appliedAt: null,
      status: "recorded",
      rowsChanged: 0,
      filesChanged: 0,
      detail: "the merchant must answer this request (Shopify: within 30 days); Kura sends nothing",
      createdAt: previous?.createdAt ?? now,
      updatedAt: now
    })
    return {
      id,
      kind: "data_request",
      status: "recorded",
      tables: {},
      rowsChanged: 0,
      files: [],
      filesChanged: 0
    } satisfies RedactionOutcome
  })

  const list = readLedger(warehouse)

  /** The ledger's customer requests that were carried out (or tried), of one source/account if given. */
  const customerEntries = (entries: ReadonlyArray<RedactionEntry>, source?: string, sourceAccount?: string) =>
    entries.filter(
      (e) =>
        e.kind === "customer" &&
        e.status !== "recorded" &&
        (source === undefined || e.source === source) &&
        (sourceAccount === undefined || e.sourceAccount === sourceAccount)
    )
  /** An entry's customer ids (kept comma-separated in the ledger). */
  const customerIdsOf = (e: RedactionEntry): ReadonlyArray<string> =>
    e.customerId === null ? [] : e.customerId.split(",")

  const reapply = Effect.fn("Redaction.reapply")(function* (filter?: {
    readonly source?: string
    readonly sourceAccount?: string
  }) {
    const now = yield* Clock.currentTimeMillis
    const entries = customerEntries(yield* list, filter?.source, filter?.sourceAccount)
    // One pass per (source, account) for all of its entries: the lake and the raw table are read
    // once, however long the ledger grows.
    const groups = new Map<string, Array<RedactionEntry>>()
    for (const e of entries) {
      const key = JSON.stringify([e.source, e.sourceAccount])
      const group = groups.get(key)
      if (group === undefined) groups.set(key, [e])
      else group.push(e)
    }
    const out: Array<RedactionOutcome> = []
    for (const group of groups.values()) {
      const { source, sourceAccount } = group[0]!
      // The e-mail itself is not kept: an e-mail-only request is re-applied through the customer
      // ids found at the first pass (customers rows keep their ids) and those whose e-mail still
      // hashes to the request's.
      const hashed = group.some((e) => e.emailSha256 !== null)
        ? yield* emailHashes(source, sourceAccount)
        : []
      const subjects = group.map((e) =>
        makeSubject({
          customerIds: [
            ...customerIdsOf(e),
            ...hashed.filter((h) => h.sha === e.emailSha256).map((h) => h.id)
          ],
          orderIds: e.orderIds
        })
      )
      // A pending or failed entry never completed: the group gets a whole pass.
      const since = group.every((e) => e.status === "done" && e.appliedAt !== null)
        ? Math.min(...group.map((e) => (e.appliedAt ?? 0) - REAPPLY_MARGIN_MS))
        : undefined
      // Lake files written since the group's last application are read whatever their day, and
      // the raw rows of those naming someone whatever their fetch time.
      const writtenSince = since === undefined ? undefined : Math.min(...group.map((e) => e.appliedAt ?? 0))
      out.push(
        ...(yield* settle(
          group,
          now,
          applyCustomers(source, sourceAccount, subjects, since, undefined, writtenSince)
        ))
      )
    }
    return out
  })

  const reapplyLanded = Effect.fn("Redaction.reapplyLanded")(function* (input: {
    readonly source: string
    readonly sourceAccount: string
    readonly batchId: string
    readonly texts: ReadonlyArray<string>
    readonly entries?: ReadonlyArray<RedactionEntry>
    readonly lakePaths?: ReadonlyArray<string>
  }) {
    const ofAccount = (entries: ReadonlyArray<RedactionEntry>) =>
      customerEntries(entries, input.source, input.sourceAccount)
    const known = ofAccount(input.entries ?? (yield* list))
    if (known.length === 0 || input.texts.length === 0) return []
    // An e-mail request is kept as a hash: the batch's addresses are hashed to find it.
    let hashes: Map<string, string> | undefined
    const addressOf = (sha: string) => {
      if (hashes === undefined) {
        hashes = new Map()
        for (const t of input.texts)
          for (const m of t.matchAll(EMAIL)) hashes.set(emailSha256(m[0]), m[0].toLowerCase())
      }
      return hashes.get(sha)
    }
    const tokensOfEntry = (e: RedactionEntry) =>
      subjectTokens(
        makeSubject({
          customerIds: customerIdsOf(e),
          orderIds: e.orderIds
        })
      )
    // Every number of the batch, once: a webhook batch is thousands of bodies and the ledger may
    // hold many entries, so ids are looked up in a set instead of searched for in every text.
    let numbers: Set<string> | undefined
    const named = (token: string) => {
      if (!/^\d+$/.test(token)) return input.texts.some((t) => mayMention(t, [token]))
      if (numbers === undefined) {
        numbers = new Set()
        for (const t of input.texts) for (const m of t.matchAll(DIGITS)) numbers.add(m[0])
      }
      return numbers.has(token)
    }
    const matched = new Map<string, string | undefined>()
    for (const e of known) {
      const email = e.emailSha256 === null ? undefined : addressOf(e.emailSha256)
      if (email !== undefined || tokensOfEntry(e).some(named)) matched.set(e.id, email)
    }
    if (matched.size === 0) return []
    const now = yield* Clock.currentTimeMillis
    const fresh = ofAccount(yield* list).filter((e) => matched.has(e.id))
    const subjects = fresh.map((e) => {
      const email = matched.get(e.id)
      return makeSubject({
        customerIds: customerIdsOf(e),
        emails: email === undefined ? [] : [email],
        orderIds: e.orderIds
      })
    })
    return yield* settle(
      fresh,
      now,
      applyCustomers(
        input.source,
        input.sourceAccount,
        subjects,
        undefined,
        input.batchId,
        undefined,
        input.lakePaths
      ),
      [],
      true
    )
  })

  /** The account's customers that still hold an e-mail, with its hash (one read per account). */
  const emailHashes = (source: string, account: string) =>
    Effect.map(query(RSql.customerEmails(d), { source, account }), (rows) =>
      rows.flatMap((r) => {
        const email = str(r.email)
        const id = str(r.id)
        return email !== null && id !== null ? [{ id, sha: emailSha256(email) }] : []
      })
    )

  return Redaction.of({
    redactCustomer,
    redactShop,
    reinstateShop,
    ledgerVersion,
    recordDataRequest,
    reapply,
    reapplyLanded,
    list
  })
}
