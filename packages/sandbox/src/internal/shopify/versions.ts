/**
 * API version routing. Shopify never rejects a retired or unknown version: it "falls forward" to
 * the oldest supported stable version and says so in `X-Shopify-API-Version`.
 */

/** Stable versions supported in late 2026, the 2027-01 release candidate, and `unstable`. */
export const DEFAULT_SUPPORTED_VERSIONS: ReadonlyArray<string> = [
  "2026-01",
  "2026-04",
  "2026-07",
  "2026-10",
  "2027-01",
  "unstable"
]

const isDated = (v: string): boolean => /^\d{4}-\d{2}$/.test(v)

/** The version that serves a request for `requested`. */
export const resolveVersion = (requested: string, supported: ReadonlyArray<string>): string => {
  if (supported.includes(requested)) return requested
  const oldest = supported.filter(isDated).sort()[0]
  return oldest ?? supported[0] ?? "2026-01"
}

/** Whether `version` is `min` or newer (`unstable` is newest). */
export const versionAtLeast = (version: string, min: string): boolean =>
  version === "unstable" ? true : isDated(version) && version >= min
