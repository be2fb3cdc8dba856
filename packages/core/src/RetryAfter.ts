/**
 * Parsing of the `Retry-After` header (RFC 9110 §10.2.3). It is seconds, possibly fractional
 * (Shopify REST sends `2.0`), or an HTTP date. It is never milliseconds: reading `2.0` as 2 ms is
 * the classic bug that turns a polite client into a hammer.
 */

const SECONDS = /^\s*(\d+(?:\.\d+)?)\s*$/

/**
 * Returns the wait in whole milliseconds (rounded up, never negative), or `null` when the header
 * is absent or unreadable. `now` is the current epoch ms (pass `Clock` time for testability).
 */
export const parseRetryAfter = (value: string | null | undefined, now: number): number | null => {
  if (value === undefined || value === null) return null
  const trimmed = value.trim()
  if (trimmed === "") return null
  const seconds = SECONDS.exec(trimmed)
  if (seconds?.[1] !== undefined) return Math.ceil(Number(seconds[1]) * 1000)
  // HTTP dates always contain a letter (day/month names); guards against Date.parse oddities on numbers.
  if (!/[a-z]/i.test(trimmed)) return null
  const at = Date.parse(trimmed)
  if (Number.isNaN(at)) return null
  return Math.max(0, at - now)
}
