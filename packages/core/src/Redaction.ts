/**
 * Masks secrets in text before it can reach a log line, an error message or a dead letter.
 * Two layers of defence: exact values registered at startup (tokens read from config) and
 * patterns for the shapes secrets usually take in URLs, headers and bodies, so that a secret
 * nobody registered is still caught.
 */
import { Redacted } from "effect"

/** What replaces a secret. Fixed so tests and log searches can rely on it. */
export const REDACTED = "<redacted>"

const registered = new Set<string>()
/** `registered`, longest first; rebuilt when a secret is added. */
let longestFirst: ReadonlyArray<string> = []

/**
 * Registers secret values to mask everywhere `redact` is used (process-wide, because secrets
 * are process-wide). Values shorter than 4 characters are ignored: masking "1" would destroy logs.
 */
export const registerSecret = (...secrets: ReadonlyArray<string | Redacted.Redacted<string>>): void => {
  for (const secret of secrets) {
    const value = Redacted.isRedacted(secret) ? Redacted.value(secret) : secret
    if (value.length >= 4) registered.add(value)
  }
  longestFirst = [...registered].sort((a, b) => b.length - a.length)
}

/** Forgets all registered secrets (tests). */
export const clearRegisteredSecrets = (): void => {
  registered.clear()
  longestFirst = []
}

/**
 * Replaces every occurrence of each value in `secrets` with `<redacted>`. Longest first: when one
 * secret contains another (a key and the same key with a suffix), masking the shorter first would
 * leave the longer one's remainder in the text.
 */
export const maskValues = (text: string, secrets: Iterable<string>): string => {
  let out = text
  const ordered = [...secrets].filter((s) => s.length > 0).sort((a, b) => b.length - a.length)
  for (const secret of ordered) if (out.includes(secret)) out = out.split(secret).join(REDACTED)
  return out
}

/** Query/body parameter names whose values are always secret. */
export const SECRET_PARAM_NAMES: ReadonlyArray<string> = [
  "access_token",
  "refresh_token",
  "id_token",
  "client_secret",
  "api_key",
  "apikey",
  "api-key",
  "token",
  "password",
  "secret",
  "signature",
  "hmac"
]

/** Header names whose values are always secret (compared case-insensitively). */
export const SECRET_HEADER_NAMES: ReadonlyArray<string> = [
  "authorization",
  "proxy-authorization",
  "x-shopify-access-token",
  "x-api-key",
  "api-key",
  "cookie",
  "set-cookie",
  "x-stocky-api-key"
]

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

const paramAlternation = SECRET_PARAM_NAMES.map(escapeRegExp).join("|")

const PATTERNS: ReadonlyArray<readonly [RegExp, string]> = [
  // Authorization: Bearer xyz / Basic xyz / Token token=xyz (header lines or JSON-ish text).
  [/\b(authorization|proxy-authorization)(["']?\s*[:=]\s*["']?)([^"'\r\n,}]+)/gi, `$1$2${REDACTED}`],
  // Bearer tokens anywhere.
  [/\b(Bearer|Basic)\s+[A-Za-z0-9\-._~+/=]{4,}/g, `$1 ${REDACTED}`],
  // X-Shopify-Access-Token: shpat_..., X-Api-Key: ..., Cookie: ...
  [
    /\b(x-shopify-access-token|x-api-key|api-key|cookie|set-cookie)(["']?\s*[:=]\s*["']?)([^"'\r\n,}]+)/gi,
    `$1$2${REDACTED}`
  ],
  // Stocky style: Authorization: API KEY=abc / API KEY=abc
  [/\b(API[ _-]?KEY\s*=\s*)([^\s"',;&}]+)/gi, `$1${REDACTED}`],
  // access_token=..., client_secret=..., ?token=... in URLs and form bodies.
  [new RegExp(`([?&;\\s]|^)(${paramAlternation})=([^&\\s#"']+)`, "gi"), `$1$2=${REDACTED}`],
  // "access_token": "..." in JSON bodies.
  [
    new RegExp(`("(?:${paramAlternation}|accessToken|refreshToken|clientSecret)"\\s*:\\s*")([^"]*)(")`, "gi"),
    `$1${REDACTED}$3`
  ],
  // Shopify token shapes even when unlabelled.
  [/\bshp(at|ca|pa|ss|ua)_[A-Za-z0-9]{8,}/g, REDACTED],
  // user:password@ in URLs.
  [/(\/\/)([^/@\s:]+):([^/@\s]+)@/g, `$1$2:${REDACTED}@`]
]

/** Masks registered secret values and common secret patterns in any text. */
export const redact = (text: string): string => {
  let out = text
  // Longest first, as in `maskValues` (kept pre-sorted: this runs on every log line).
  for (const secret of longestFirst) {
    if (out.includes(secret)) out = out.split(secret).join(REDACTED)
  }
  for (const [pattern, replacement] of PATTERNS) {
    out = out.replace(pattern, replacement)
  }
  return out
}

/**
 * Redacts a URL: secret query parameters, userinfo passwords and registered secrets. Falls back
 * to plain `redact` for strings that do not parse as URLs.
 */
export const redactUrl = (url: string): string => {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return redact(url)
  }
  const secretNames = new Set(SECRET_PARAM_NAMES)
  for (const name of [...parsed.searchParams.keys()]) {
    if (secretNames.has(name.toLowerCase())) parsed.searchParams.set(name, REDACTED)
  }
  if (parsed.password !== "") parsed.password = "redacted"
  // URLSearchParams percent-encodes "<" and ">"; put the marker back so it reads the same everywhere.
  return redact(parsed.toString().replaceAll("%3Credacted%3E", REDACTED))
}

/** Returns a copy of `headers` with secret header values masked (names compared case-insensitively). */
export const redactHeaders = (
  headers: Readonly<Record<string, string | ReadonlyArray<string> | number | undefined>>
): Record<string, string> => {
  const secretNames = new Set(SECRET_HEADER_NAMES)
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue
    const text = Array.isArray(value) ? value.join(", ") : String(value)
    out[name] = secretNames.has(name.toLowerCase()) ? REDACTED : redact(text)
  }
  return out
}

/** Redacts and truncates a response body for error messages (keeps errors small and safe). */
export const excerpt = (body: string, maxLength = 512): string => {
  const safe = redact(body)
  return safe.length > maxLength ? `${safe.slice(0, maxLength)}… (${safe.length} chars)` : safe
}
