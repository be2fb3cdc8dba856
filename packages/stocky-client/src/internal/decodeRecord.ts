/**
 * Decodes one wire record into its typed form and turns schema issues into a `StockyError` with
 * reason `Decode` that names the source, position and field.
 */
import { Effect, Schema, SchemaIssue } from "effect"
import { Decode, StockyError } from "../StockyError.js"
import { type StockyRecords, type StockyResourceName, StockyResources } from "../StockyResource.js"

/** Where a record came from, for error messages. */
export interface RecordOrigin {
  readonly source: string
  readonly line?: number | undefined
  readonly index?: number | undefined
}

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

/** Converts a schema failure into the client's Decode reason (first issue decides the field). */
export const toDecodeError = (
  resource: string,
  origin: RecordOrigin,
  issue: SchemaIssue.Issue
): StockyError => {
  const issues = formatter(issue).issues
  const first = issues[0]
  const pathOf = (i: { readonly path?: ReadonlyArray<unknown> | undefined }) =>
    (i.path ?? []).map((p) => String(typeof p === "object" && p !== null && "key" in p ? p.key : p)).join(".")
  const field = first ? pathOf(first) : ""
  const detail =
    issues.length === 0
      ? String(issue)
      : issues.map((i) => (pathOf(i) === "" ? i.message : `${pathOf(i)}: ${i.message}`)).join("; ")
  return new StockyError({
    reason: new Decode({
      resource,
      source: origin.source,
      line: origin.line ?? null,
      index: origin.index ?? null,
      field,
      detail
    })
  })
}

/** Decodes `raw` as a record of `resource`. */
export const decodeRecord = <R extends StockyResourceName>(
  resource: R,
  raw: unknown,
  origin: RecordOrigin
): Effect.Effect<StockyRecords[R], StockyError> =>
  Schema.decodeUnknownEffect(StockyResources[resource].schema)(raw, { errors: "all" }).pipe(
    Effect.mapError((e) => toDecodeError(resource, origin, e.issue))
  )
