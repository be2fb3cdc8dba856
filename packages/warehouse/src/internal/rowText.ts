/**
 * Turns JS row values into the text staged for the engine, checking each against its column's
 * type. A mismatch is reported, never coerced: the row then goes to the dead-letter table.
 */

import type { ColumnType } from "../TableDefinition.js"
import { isDecimalText as isDecimal } from "./decimalText.js"

/** The text for a value, or an explanation of why it does not fit the column type. */
export type TextResult =
  | { readonly ok: true; readonly text: string | null }
  | { readonly ok: false; readonly why: string }

const ok = (text: string | null): TextResult => ({ ok: true, text })
const bad = (type: ColumnType, value: unknown): TextResult => ({
  ok: false,
  why: `expected ${type} but got ${describe(value)}`
})

const describe = (value: unknown): string => {
  if (Array.isArray(value)) return "an array"
  if (value === null) return "null"
  if (typeof value === "string")
    return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`
  if (typeof value === "object") return "an object"
  return `the ${typeof value} ${String(value)}`
}

const INT = /^-?\d{1,19}$/
const DATE = /^\d{4}-\d{2}-\d{2}$/

/** JSON.stringify that keeps bigints as numbers-in-text rather than throwing. */
export const stringifyJson = (value: unknown): string =>
  JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v))

/** Marks a value that does not fit its column (the hot path avoids allocating a result object). */
export const INVALID: unique symbol = Symbol("kura/invalid")

const ISO_TS =
  /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,6})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$/

const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
/** "2026-02-30" passes the pattern but is no date: the engines would fail the whole batch on it. */
const dayExists = (iso: string): boolean => {
  const y = Number(iso.slice(0, 4))
  const m = Number(iso.slice(5, 7))
  const d = Number(iso.slice(8, 10))
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0
  return d >= 1 && m >= 1 && m <= 12 && d <= (m === 2 && leap ? 29 : (DAYS[m - 1] ?? 31))
}

/**
 * The staged text of a value, or INVALID. Canonical ISO-8601 timestamps pass through untouched
 * (both engines read offsets); anything else Date can parse is normalised to UTC.
 */
export const textOf = (type: ColumnType, value: unknown): string | null | typeof INVALID => {
  if (value === null || value === undefined) return null
  switch (type) {
    case "string":
      if (typeof value === "string") return value
      if (typeof value === "number" || typeof value === "bigint" || typeof value === "boolean")
        return String(value)
      return INVALID
    case "timestamp":
      if (typeof value === "string" && ISO_TS.test(value)) return dayExists(value) ? value : INVALID
      break
    case "int":
      if (typeof value === "number" && Number.isSafeInteger(value)) return String(value)
      break
    default:
      break
  }
  const r = toText(type, value)
  return r.ok ? r.text : INVALID
}

/** Converts one value for a column of `type`. `undefined` and `null` are NULL. */
export const toText = (type: ColumnType, value: unknown): TextResult => {
  if (value === null || value === undefined) return ok(null)
  switch (type) {
    case "string":
      if (typeof value === "string") return ok(value)
      if (typeof value === "number" || typeof value === "bigint" || typeof value === "boolean") {
        return ok(String(value))
      }
      return bad(type, value)
    case "int":
      if (typeof value === "number" && Number.isSafeInteger(value)) return ok(String(value))
      if (typeof value === "bigint") return ok(value.toString())
      if (typeof value === "string" && INT.test(value)) return ok(value)
      return bad(type, value)
    case "decimal":
      if (typeof value === "string" && isDecimal(value)) return ok(value)
      if (typeof value === "bigint") return ok(value.toString())
      // Finite numbers pass only when their exact shortest text is a decimal (1.5, not 1e-7).
      if (typeof value === "number" && Number.isFinite(value) && isDecimal(String(value))) {
        return ok(String(value))
      }
      return bad(type, value)
    case "bool":
      if (typeof value === "boolean") return ok(value ? "true" : "false")
      return bad(type, value)
    case "timestamp": {
      if (value instanceof Date && !Number.isNaN(value.getTime())) return ok(value.toISOString())
      if (typeof value === "string" && /^\d{4}-\d{2}-\d{2}/.test(value) && dayExists(value)) {
        const ms = Date.parse(value)
        if (!Number.isNaN(ms)) return ok(new Date(ms).toISOString())
      }
      return bad(type, value)
    }
    case "date":
      if (typeof value === "string" && DATE.test(value) && dayExists(value)) {
        return ok(value)
      }
      return bad(type, value)
    case "json":
      // A string is taken as JSON text already (raw payloads are stored exactly as received).
      if (typeof value === "string") return ok(value)
      return ok(stringifyJson(value))
  }
}

/**
 * The column type a new field gets. Non-integer numbers become DECIMAL, never FLOAT: a new field
 * is as likely to be money as anything else.
 */
export const inferType = (value: unknown): ColumnType | null => {
  if (value === null || value === undefined) return null
  if (typeof value === "boolean") return "bool"
  if (typeof value === "bigint") return "int"
  if (typeof value === "number") {
    if (Number.isSafeInteger(value)) return "int"
    return Number.isFinite(value) ? "decimal" : null
  }
  if (typeof value === "string") return "string"
  return "json"
}

/** Why a value does not fit a column type (only computed for rejected rows). */
export const whyInvalid = (type: ColumnType, value: unknown): string => {
  const r = toText(type, value)
  return r.ok ? `expected ${type}` : r.why
}
