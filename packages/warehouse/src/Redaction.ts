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
import { CanonicalTables } from "./Tables.js"
import { Warehouse } from "./Warehouse.js"

/** The marker a redacted personal string gets where the source's schema requires a value (`displayName`). */
export { REDACTED } from "./internal/redactionPayload.js"

/** A redaction could not be done; `reason` says why. */
export class RedactionError extends Schema.TaggedError<RedactionError>()("RedactionError", {
  reason: Schema.Literals(["InvalidInput", "NotConfirmed", "Warehouse", "Lake"]),
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
  readonly status: "pending" | "done" | "failed" | "recorded"
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
    /** Deletes every row of an account from every table and its whole lake prefix. Needs `confirm`. */
    readonly redactShop: (input: RedactShopInput) => Effect.Effect<RedactionOutcome, RedactionError>
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
 * which makes it appear only once fully written: a failure in between leaves the old file.
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
const Statuses = ["pending", "done", "failed", "recorded"] as const
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

const sum = (r: Readonly<Record<string, number>>) => Object.values(r).reduce((a, b) => a + b, 0)

/** Builds the service over a warehouse and the lake's store. */
export const makeRedaction = (
  warehouse: Warehouse["Service"],
  store: ObjectStore["Service"]
): Redaction["Service"] => {
  const d = warehouse.dialect

  // DuckDB refuses a parameter the statement does not name: pass only the ones it uses.
  const used = (sql: string, params: Readonly<Record<string, string | null>>) =>
    Object.fromEntries(
      Object.entries(params).filter(([k]) =>
        new RegExp(`${d.param(k).replace("$", "\\$")}(?![A-Za-z0-9_])`).test(sql)
      )
    )
  const run = (sql: string, params: Readonly<Record<string, string | null>>) =>
    warehouse.exclusive((x) => x.run(sql, used(sql, params))).pipe(Effect.mapError(warehouseError))
  const query = (sql: string, params: Readonly<Record<string, string | null>>) =>
    warehouse.query(sql, used(sql, params)).pipe(Effect.mapError(warehouseError))

  const readEntry = (id: string) =>
    Effect.map(query(RSql.selectLedger(d, true), { id }), (rows) =>
      rows[0] === undefined ? undefined : entryOf(rows[0])
    )

  const writeEntry = (e: RedactionEntry) =>
    warehouse
      .exclusive((x) =>
        Effect.andThen(
          x.run(RSql.deleteLedgerRow(d), { id: e.id }),
          x.run(RSql.insertLedgerRow(d), ledgerParams(e))
        )
      )
      .pipe(Effect.mapError(warehouseError), Effect.asVoid)

  /**
   * Runs an entry's work and records how it ended in the ledger: failed with the error's message
   * (the error is passed on), or done with what it changed added to the entry's totals. `done`
   * adds fields learnt by the work (an e-mail request's resolved customer ids).
   */
  const settle = (
    entry: RedactionEntry,
    now: number,
    work: Effect.Effect<
      { readonly tables: Record<string, number>; readonly files: ReadonlyArray<string> },
      RedactionError
    >,
    done: Partial<RedactionEntry> = {}
  ): Effect.Effect<RedactionOutcome, RedactionError> =>
    Effect.gen(function* () {
      const result = yield* Effect.result(work)
      if (result._tag === "Failure") {
        yield* writeEntry({ ...entry, status: "failed", detail: result.failure.message, updatedAt: now })
        return yield* result.failure
      }
      const { tables, files } = result.success
      const rows = sum(tables)
      yield* writeEntry({
        ...entry,
        ...done,
        status: "done",
        appliedAt: now,
        rowsChanged: entry.rowsChanged + rows,
        filesChanged: entry.filesChanged + files.length,
        detail: null,
        updatedAt: now
      })
      return {
        id: entry.id,
        kind: entry.kind,
        status: "done",
        tables,
        rowsChanged: rows,
        files,
        filesChanged: files.length
      } satisfies RedactionOutcome
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
   * One pass over everything of an account that may hold the subject's data. `since`: only raw
   * rows fetched from then and lake partitions of that day on (plus the raw rows' own files).
   */
  const applyCustomer = (source: string, account: string, subject: Subject, since: number | undefined) =>
    Effect.gen(function* () {
      const tables: Record<string, number> = {}
      const customerIds = RSql.listParams(d, "c", [...subject.customerIds])
      const orderIds = RSql.listParams(d, "o", [...subject.orderIds])
      const emails = RSql.listParams(d, "m", [...subject.emails])
      const base = { source, account, ...customerIds.params, ...orderIds.params, ...emails.params }
      for (const table of Object.values(CanonicalTables)) {
        if (RSql.piiColumns(table).length === 0) continue
        const scope = RSql.customerScopes[table.name]
        if (scope === undefined) continue
        const n = yield* run(
          RSql.nullPii(d, table, scope(d, customerIds.sql, orderIds.sql, emails.sql)),
          base
        )
        if (n > 0) tables[table.name] = n
      }
      const tokens = subjectTokens(subject)
      const like = RSql.likeParams(tokens)
      const files = new Set<string>()
      if (tokens.length > 0) {
        const sinceParam = since === undefined ? {} : { since: new Date(since).toISOString() }
        const raw = yield* query(RSql.rawCandidates(d, tokens.length, since !== undefined), {
          source,
          account,
          ...like,
          ...sinceParam
        })
        let rawChanged = 0
        for (const r of raw) {
          const payload = str(r.payload)
          if (payload === null) continue
          const stream = str(r.stream) ?? ""
          const next = rewriteLine(payload, subject, tokens, stream)
          const lakePath = str(r.lake_path)
          if (lakePath !== null && mayMention(payload, tokens)) files.add(lakePath)
          if (next === undefined) continue
          rawChanged += yield* run(RSql.updateRawPayload(d), {
            source,
            account,
            stream,
            id: str(r.source_id),
            updated_at: str(r.updated_at),
            payload: next
          })
        }
        if (rawChanged > 0) tables._kura_raw = rawChanged
        const letters = yield* query(RSql.deadLetterCandidates(d, tokens.length), {
          source,
          account,
          ...like
        })
        let lettersChanged = 0
        for (const l of letters) {
          const payload = str(l.payload)
          if (payload === null) continue
          const next = rewriteLine(payload, subject, tokens, str(l.stream) ?? "")
          if (next === undefined) continue
          lettersChanged += yield* run(RSql.updateDeadLetterPayload(d), { id: str(l.id), payload: next })
        }
        if (lettersChanged > 0) tables._kura_dead_letters = lettersChanged
      }
      const listed = yield* store.list(lakeAccountPrefix(source, account)).pipe(Effect.mapError(lakeError))
      const fromDay = since === undefined ? undefined : utcDay(since)
      for (const o of listed) {
        const loc = parseLakePath(o.path)
        if (loc === undefined) continue
        if (fromDay === undefined || loc.dt >= fromDay) files.add(o.path)
      }
      const rewritten: Array<string> = []
      if (tokens.length > 0)
        for (const path of [...files].sort()) {
          const stream = parseLakePath(path)?.key.stream ?? ""
          const done = yield* rewriteLakeFile(store, path, (line) =>
            rewriteLine(line, subject, tokens, stream)
          ).pipe(
            // A file the raw table names may since have been removed by lake retention.
            Effect.catchIf(
              (e) => e.reason === "NotFound",
              () => Effect.succeed(false)
            ),
            Effect.mapError(lakeError)
          )
          if (done) rewritten.push(path)
        }
      return { tables, files: rewritten }
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
    return yield* settle(entry, now, applyCustomer(input.source, input.sourceAccount, subject, undefined), {
      customerId: entry.customerId ?? (resolved.length === 0 ? null : resolved.join(","))
    })
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
    const work = Effect.gen(function* () {
      const tables: Record<string, number> = {}
      for (const table of RSql.accountTables) {
        const n = yield* run(RSql.deleteAccount(d, table), {
          source: input.source,
          account: input.sourceAccount
        })
        if (n > 0) tables[table] = n
      }
      const objects = yield* store
        .list(lakeAccountPrefix(input.source, input.sourceAccount))
        .pipe(Effect.mapError(lakeError))
      yield* Effect.forEach(objects, (o) => store.delete(o.path), { concurrency: 8, discard: true }).pipe(
        Effect.mapError(lakeError)
      )
      return { tables, files: objects.map((o) => o.path) }
    })
    return yield* settle(entry, now, work)
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

  const list = Effect.map(query(RSql.selectLedger(d, false), {}), (rows) => rows.map(entryOf))

  const reapply = Effect.fn("Redaction.reapply")(function* (filter?: {
    readonly source?: string
    readonly sourceAccount?: string
  }) {
    const now = yield* Clock.currentTimeMillis
    const entries = (yield* list).filter(
      (e) =>
        e.kind === "customer" &&
        e.status !== "recorded" &&
        (filter?.source === undefined || e.source === filter.source) &&
        (filter?.sourceAccount === undefined || e.sourceAccount === filter.sourceAccount)
    )
    const out: Array<RedactionOutcome> = []
    for (const e of entries) {
      // A pending or failed entry never completed: it gets a whole pass.
      const since = e.status === "done" && e.appliedAt !== null ? e.appliedAt - REAPPLY_MARGIN_MS : undefined
      // The e-mail itself is not kept: an e-mail-only request is re-applied through the
      // customer ids found at the first pass (customers rows keep their ids).
      const subject = makeSubject({
        customerIds: e.customerId === null ? [] : e.customerId.split(","),
        orderIds: e.orderIds
      })
      const ids = e.emailSha256 !== null ? yield* idsByEmailHash(e) : []
      const full =
        ids.length === 0
          ? subject
          : makeSubject({ customerIds: [...subject.customerIds, ...ids], orderIds: e.orderIds })
      out.push(yield* settle(e, now, applyCustomer(e.source, e.sourceAccount, full, since)))
    }
    return out
  })

  /** Customers of the account whose e-mail hashes to the entry's (before their e-mail was nulled). */
  const idsByEmailHash = (e: RedactionEntry) =>
    Effect.map(query(RSql.customerEmails(d), { source: e.source, account: e.sourceAccount }), (rows) =>
      rows.flatMap((r) => {
        const email = str(r.email)
        const id = str(r.id)
        return email !== null && id !== null && emailSha256(email) === e.emailSha256 ? [id] : []
      })
    )

  return Redaction.of({ redactCustomer, redactShop, recordDataRequest, reapply, list })
}
