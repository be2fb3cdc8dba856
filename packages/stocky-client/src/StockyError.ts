/**
 * Stocky-specific failures. HTTP-level failures (401, 403, 5xx after retries, timeouts) stay
 * core's `ApiError`; this error covers what only a Stocky client knows: the API was shut down, a
 * record does not exist, a record or archive row does not decode, paging stalled, an archive is
 * unreadable. Match on `error.reason._tag`.
 */
import { Schema } from "effect"

/** The message every retirement error carries, so users see the same fix everywhere. */
export const RETIRED_MESSAGE = "Stocky's API is no longer available; import an archive instead"

/**
 * The API is gone (Stocky shut down on 2026-08-31): 404/410 on every path, an HTML or
 * "discontinued" page, or the host no longer resolves. Permanent; never retried.
 */
export class Retired extends Schema.TaggedClass<Retired>()("Retired", {
  /** Redacted URL whose answer proved it. */
  url: Schema.String,
  /** What was seen, e.g. "410 on /api/v2/suppliers.json" or "DNS: ENOTFOUND". */
  evidence: Schema.String
}) {}

/** A single-record endpoint answered 404 for this id. */
export class NotFound extends Schema.TaggedClass<NotFound>()("NotFound", {
  resource: Schema.String,
  id: Schema.Number
}) {}

/** A record (API page or archive row) did not match its schema. */
export class Decode extends Schema.TaggedClass<Decode>()("Decode", {
  resource: Schema.String,
  /** The URL (redacted) or archive file the record came from. */
  source: Schema.String,
  /** 1-based line in a CSV file (header = line 1), when the source is a CSV. */
  line: Schema.NullOr(Schema.Number),
  /** 0-based index of the record inside its page, when the source is a JSON page. */
  index: Schema.NullOr(Schema.Number),
  /** Dotted path of the failing field, e.g. "purchase_items.0.retail_price"; "" for the whole record. */
  field: Schema.String,
  /** What was wrong and what was expected. */
  detail: Schema.String
}) {}

/** The server's paging did not advance (cursor and offset both stalled). */
export class PagingStalled extends Schema.TaggedClass<PagingStalled>()("PagingStalled", {
  resource: Schema.String,
  url: Schema.String,
  detail: Schema.String
}) {}

/** An archive is missing a file, unreadable, or fails its manifest checksums. */
export class Archive extends Schema.TaggedClass<Archive>()("Archive", {
  /** The file concerned ("" for the archive as a whole). */
  file: Schema.String,
  detail: Schema.String
}) {}

/** A configuration value is invalid. */
export class InvalidConfig extends Schema.TaggedClass<InvalidConfig>()("InvalidConfig", {
  field: Schema.String,
  detail: Schema.String
}) {}

/** Every reason a Stocky operation can fail with beyond core's `ApiError`. */
export const StockyErrorReason = Schema.Union([
  Retired,
  NotFound,
  Decode,
  PagingStalled,
  Archive,
  InvalidConfig
])
/** Every reason a Stocky operation can fail with beyond core's `ApiError`. */
export type StockyErrorReason = typeof StockyErrorReason.Type

/** The Stocky client's own error. `reason._tag` says what happened; all reasons are permanent. */
export class StockyError extends Schema.TaggedError<StockyError>()("StockyError", {
  reason: StockyErrorReason
}) {
  /** One line naming the problem and, where there is one, the fix. */
  override get message(): string {
    return describeStockyReason(this.reason)
  }
}

/** Stocky's API paths all live under `/api/v2/`. */
const onApiPath = (url: string): boolean => {
  try {
    return new URL(url).pathname.startsWith("/api/v2/")
  } catch {
    return url.includes("/api/v2/")
  }
}

const WRONG_BASE_HINT =
  ". If the API is still up, the base URL is wrong: it must end in /api/v2 (e.g. https://stocky.shopifyapps.com/api/v2)"

/** Renders a reason as one human-readable line. */
export const describeStockyReason = (r: StockyErrorReason): string => {
  switch (r._tag) {
    case "Retired":
      // Every path of a mistyped base URL also answers 404: say so when the URL is not the API's.
      return `${RETIRED_MESSAGE} (${r.evidence}; ${r.url})${onApiPath(r.url) ? "" : WRONG_BASE_HINT}`
    case "NotFound":
      return `No ${r.resource} record with id ${r.id}`
    case "Decode": {
      const where =
        r.line !== null
          ? `${r.source}:${r.line}`
          : r.index !== null
            ? `${r.source} [record ${r.index}]`
            : r.source
      return `Could not decode ${r.resource} at ${where}, field "${r.field}": ${r.detail}`
    }
    case "PagingStalled":
      return `Paging ${r.resource} stalled at ${r.url}: ${r.detail}`
    case "Archive":
      return `Archive problem${r.file === "" ? "" : ` in ${r.file}`}: ${r.detail}`
    case "InvalidConfig":
      return `Invalid Stocky configuration "${r.field}": ${r.detail}`
  }
}

/** Whether the failure means the live API is gone (switch to an archive). */
export const isRetired = (error: unknown): boolean =>
  error instanceof StockyError && error.reason._tag === "Retired"
