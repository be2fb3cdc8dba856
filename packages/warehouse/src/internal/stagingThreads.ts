/**
 * How many DuckDB threads the bulk staging read may use: it holds about 100 MB of DuckDB memory per
 * thread whatever the file size (measured 2026-11-27: two threads run out below ~280MB, one stages
 * 100k orders in ~100MB), so a connection with a small `memory_limit` stages on fewer threads
 * instead of failing.
 */
/**
 * DuckDB memory the staging read needs per thread: two threads failed at 270MB and staged at 300MB
 * (which DuckDB reports as 286.1 MiB, just under 300e6 bytes, hence not 150e6).
 */
const STAGING_BYTES_PER_THREAD = 145_000_000
const UNITS: Readonly<Record<string, number>> = {
  bytes: 1,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12
}
/** `current_setting('memory_limit')` ("143.0 MiB") in bytes, or null when it is not a size. */
export const parseDuckDbBytes = (text: string): number | null => {
  const m = /^([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]+)$/.exec(text.trim())
  const unit = m?.[2] === undefined ? undefined : UNITS[m[2].toLowerCase()]
  return m?.[1] === undefined || unit === undefined ? null : Number(m[1]) * unit
}
/** Staging threads for a connection: what its memory limit allows, at least 1, at most `threads`. */
export const stagingThreadsFor = (threads: number, memoryLimitBytes: number | null): number =>
  memoryLimitBytes === null
    ? threads
    : Math.max(1, Math.min(threads, Math.floor(memoryLimitBytes / STAGING_BYTES_PER_THREAD)))
/**
 * A `SET memory_limit` value that gives back `current_setting('memory_limit')`'s text exactly:
 * DuckDB shows one decimal, truncated, so the parsed bytes are raised by half of that last digit.
 */
export const restorableLimit = (text: string): string | null => {
  const bytes = parseDuckDbBytes(text)
  if (bytes === null) return null
  const m = /^[0-9]+\.([0-9]+)\s*([A-Za-z]+)$/.exec(text.trim())
  const unit = m?.[2] === undefined ? 1 : (UNITS[m[2].toLowerCase()] ?? 1)
  const step = m?.[1] === undefined ? 0 : unit / 10 ** m[1].length
  return `${Math.round(bytes + step / 2)} bytes`
}
