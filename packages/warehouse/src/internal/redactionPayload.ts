/**
 * Which stored records belong to a customer being erased, and how their personal fields are
 * removed. Pure functions over parsed JSON, shared by the `_kura_raw`, dead-letter and lake passes.
 *
 * Decided from the query documents in @kura/shopify-client and the webhook bodies Kura keeps:
 * - GraphQL customers carry firstName, lastName, displayName, defaultEmailAddress,
 *   defaultPhoneNumber and tags; orders carry only `customer { id legacyResourceId }`; refunds
 *   carry a free-text `note`.
 * - REST webhook bodies (orders/*, refunds/create, customers/*) carry email, phone, names,
 *   billing/shipping addresses, client details (browser IP) and notes.
 * - Lake lines of webhook batches are envelopes whose `body` is the signed JSON text.
 */

/** What identifies the customer being erased. */
export interface Subject {
  /** The customer's ids: numeric (legacy) ids and their `gid://shopify/Customer/<n>` forms. */
  readonly customerIds: ReadonlySet<string>
  /** Lower-cased e-mail addresses (records holding one of them as a value belong to the customer). */
  readonly emails: ReadonlySet<string>
  /** Order ids (numeric and gid) named by the request (`orders_to_redact`). */
  readonly orderIds: ReadonlySet<string>
}

/** Builds a subject from the ids the caller gave, adding the gid / numeric twin of each id. */
export const makeSubject = (input: {
  readonly customerIds: ReadonlyArray<string>
  readonly emails?: ReadonlyArray<string>
  readonly orderIds?: ReadonlyArray<string>
}): Subject => ({
  customerIds: withTwins(input.customerIds, "Customer"),
  emails: new Set((input.emails ?? []).map((e) => e.trim().toLowerCase()).filter((e) => e.length > 0)),
  orderIds: withTwins(input.orderIds ?? [], "Order")
})

const withTwins = (ids: ReadonlyArray<string>, type: string): ReadonlySet<string> => {
  const out = new Set<string>()
  const gid = new RegExp(`^gid://shopify/${type}/(\\d+)$`)
  for (const raw of ids) {
    const id = raw.trim()
    if (id.length === 0) continue
    out.add(id)
    const m = gid.exec(id)
    if (m) out.add(m[1]!)
    else if (/^\d+$/.test(id)) out.add(`gid://shopify/${type}/${id}`)
  }
  return out
}

/** The substrings a line must contain to possibly belong to the subject (a cheap pre-filter). */
export const subjectTokens = (s: Subject): ReadonlyArray<string> => [
  ...[...s.customerIds].filter((id) => !id.startsWith("gid://")),
  ...[...s.orderIds].filter((id) => !id.startsWith("gid://")),
  ...s.emails
]

/** Whether a line's text may mention the subject (case-insensitive for e-mails). */
export const mayMention = (line: string, tokens: ReadonlyArray<string>): boolean => {
  if (tokens.length === 0) return false
  let lower: string | undefined
  for (const t of tokens) {
    if (t.includes("@")) {
      lower ??= line.toLowerCase()
      if (lower.includes(t)) return true
    } else if (line.includes(t)) return true
  }
  return false
}

/**
 * Personal fields, wherever they appear: replaced by null (objects and strings alike), so
 * decoders that allow null keep reading the record. `displayName` is required by the Customer
 * schema, so it becomes {@link REDACTED}; a `tags` list becomes empty.
 */
const PII_KEYS: ReadonlySet<string> = new Set([
  "email",
  "contact_email",
  "contactEmail",
  "phone",
  "first_name",
  "last_name",
  "firstName",
  "lastName",
  "displayName",
  "display_name",
  "defaultEmailAddress",
  "defaultPhoneNumber",
  "emailAddress",
  "phoneNumber",
  "default_address",
  "defaultAddress",
  "addresses",
  "billing_address",
  "shipping_address",
  "billingAddress",
  "shippingAddress",
  "client_details",
  "clientDetails",
  "browser_ip",
  "customer_locale",
  "note",
  "note_attributes",
  "customAttributes",
  "tags"
])

/** The fields a customer object keeps (ids and non-personal facts). */
const CUSTOMER_KEEP: ReadonlySet<string> = new Set([
  "__typename",
  "id",
  "legacyResourceId",
  "admin_graphql_api_id",
  "createdAt",
  "updatedAt",
  "created_at",
  "updated_at",
  "state",
  "verifiedEmail",
  "verified_email",
  "taxExempt",
  "tax_exempt",
  "currency",
  "orders_count",
  "total_spent",
  "numberOfOrders",
  "amountSpent"
])

/** The marker written where a personal string field cannot be null. */
export const REDACTED = "[redacted]"

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v)

const idOf = (v: unknown): string | undefined =>
  typeof v === "string" ? v : typeof v === "number" ? String(v) : undefined

const hasId = (o: Record<string, unknown>, ids: ReadonlySet<string>): boolean =>
  ["id", "legacyResourceId", "admin_graphql_api_id", "source_id"].some((k) => {
    const v = idOf(o[k])
    return v !== undefined && ids.has(v)
  })

/**
 * Whether a record belongs to the subject: it is the customer (a customer record or a `customer`
 * object with one of the ids, or a `customer_id` field), one of the named orders, or it holds
 * one of the e-mails as a value. `stream` tells a bare customer or order record by its stream.
 */
export const mentions = (record: unknown, s: Subject, stream = ""): boolean => {
  if (isObject(record)) {
    const type = record.__typename
    if (
      (type === "Customer" || (type === undefined && /customer/i.test(stream))) &&
      hasId(record, s.customerIds)
    )
      return true
    if ((type === "Order" || (type === undefined && /order/i.test(stream))) && hasId(record, s.orderIds))
      return true
    const body = envelopeBody(record)
    if (body !== undefined && mentions(body.parsed, s, `webhook.${body.topic}`)) return true
  }
  return walks(record, s)
}

const walks = (v: unknown, s: Subject): boolean => {
  if (typeof v === "string") return s.emails.size > 0 && s.emails.has(v.trim().toLowerCase())
  if (Array.isArray(v)) return v.some((x) => walks(x, s))
  if (!isObject(v)) return false
  for (const [k, x] of Object.entries(v)) {
    if ((k === "customer" || k === "Customer") && isObject(x) && hasId(x, s.customerIds)) return true
    if ((k === "customer_id" || k === "customerId") && idOf(x) !== undefined && s.customerIds.has(idOf(x)!))
      return true
    if (k === "admin_graphql_api_id" && idOf(x) !== undefined && s.customerIds.has(idOf(x)!)) return true
    if (walks(x, s)) return true
  }
  return false
}

/** A webhook envelope's parsed body and topic (lake lines of the `webhooks` stream). */
const envelopeBody = (
  o: Record<string, unknown>
): { readonly topic: string; readonly parsed: unknown } | undefined => {
  if (typeof o.body !== "string" || typeof o.topic !== "string") return undefined
  try {
    return { topic: o.topic, parsed: JSON.parse(o.body) }
  } catch {
    return undefined
  }
}

/**
 * A copy of a record with every personal field nulled: PII keys at any depth, every field of a
 * `customer` object (or of the customer record itself) except ids and non-personal facts, and
 * string values equal to one of the subject's e-mails. A webhook envelope's `body` is scrubbed
 * inside and written back as JSON text.
 */
export const scrub = (record: unknown, s: Subject, stream = ""): unknown => {
  if (isObject(record)) {
    const body = envelopeBody(record)
    if (body !== undefined)
      return { ...record, body: JSON.stringify(scrub(body.parsed, s, `webhook.${body.topic}`)) }
    const type = record.__typename
    if (
      type === "Customer" ||
      (type === undefined && /customer/i.test(stream) && "id" in record && !("customer" in record))
    )
      return scrubCustomer(record, s)
  }
  return scrubDeep(record, s)
}

/** The value a personal field becomes: null, except where the decoders require a value. */
const blank = (key: string, v: unknown): unknown =>
  v === null ? null : key === "displayName" ? REDACTED : Array.isArray(v) && key === "tags" ? [] : null

const scrubCustomer = (o: Record<string, unknown>, s: Subject): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(o)) {
    if (CUSTOMER_KEEP.has(k)) out[k] = k === "id" || k === "legacyResourceId" ? v : scrubDeep(v, s)
    else out[k] = blank(k, v)
  }
  return out
}

const scrubDeep = (v: unknown, s: Subject): unknown => {
  if (typeof v === "string") return s.emails.has(v.trim().toLowerCase()) ? null : v
  if (Array.isArray(v)) return v.map((x) => scrubDeep(x, s))
  if (!isObject(v)) return v
  const out: Record<string, unknown> = {}
  for (const [k, x] of Object.entries(v)) {
    if (PII_KEYS.has(k)) out[k] = blank(k, x)
    else if ((k === "customer" || k === "Customer") && isObject(x)) out[k] = scrubCustomer(x, s)
    else out[k] = scrubDeep(x, s)
  }
  return out
}

/**
 * Rewrites one NDJSON line if it belongs to the subject: the scrubbed line, or undefined when the
 * line is left as it is (not the subject's, not JSON, or already scrubbed). Lines that are kept
 * are never re-serialised, so other customers' lines stay byte for byte.
 */
export const rewriteLine = (
  line: string,
  s: Subject,
  tokens: ReadonlyArray<string>,
  stream = ""
): string | undefined => {
  if (!mayMention(line, tokens)) return undefined
  let parsed: unknown
  try {
    parsed = JSON.parse(line)
  } catch {
    return undefined
  }
  if (!mentions(parsed, s, stream)) return undefined
  const next = JSON.stringify(scrub(parsed, s, stream))
  return next === JSON.stringify(parsed) ? undefined : next
}
