/**
 * A durable TokenStore in one JSON file, for warehouses that keep no tokens. Lightspeed's refresh
 * tokens are single-use, so losing the rotated one between runs would lock the account out: every
 * write replaces the file atomically (temp file + rename), and compare-and-set runs under a lock
 * file so two processes cannot both rotate one token.
 */
import { chmod, mkdir, open, readFile, rename, rm, stat, writeFile } from "node:fs/promises"
import { dirname } from "node:path"
import { StoreError, type TokenSet, TokenStore } from "@kura/core"
import { Effect, Layer, Option, Redacted, Schema, Semaphore } from "effect"

const StoredToken = Schema.Struct({
  accessToken: Schema.String,
  refreshToken: Schema.NullOr(Schema.String),
  expiresAt: Schema.NullOr(Schema.Number),
  refreshExpiresAt: Schema.NullOr(Schema.Number),
  issuedAt: Schema.Number,
  scope: Schema.NullOr(Schema.String)
})
const StoredFile = Schema.Record(Schema.String, StoredToken)
type StoredFile = typeof StoredFile.Type

const decodeFile = Schema.decodeUnknownEffect(StoredFile)
const decodeFileSync = Schema.decodeUnknownSync(StoredFile)

const toStored = (t: TokenSet): StoredFile[string] => ({
  accessToken: Redacted.value(t.accessToken),
  refreshToken: t.refreshToken === null ? null : Redacted.value(t.refreshToken),
  expiresAt: t.expiresAt,
  refreshExpiresAt: t.refreshExpiresAt,
  issuedAt: t.issuedAt,
  scope: t.scope
})

const fromStored = (s: StoredFile[string]): TokenSet => ({
  accessToken: Redacted.make(s.accessToken),
  refreshToken: s.refreshToken === null ? null : Redacted.make(s.refreshToken),
  expiresAt: s.expiresAt,
  refreshExpiresAt: s.refreshExpiresAt,
  issuedAt: s.issuedAt,
  scope: s.scope
})

const storeError = (path: string, operation: string) => (cause: unknown) =>
  new StoreError({
    store: "TokenStore",
    operation,
    message: `token file ${path}: ${cause instanceof Error ? cause.message : String(cause)}`,
    cause
  })

const readAll = async (path: string): Promise<unknown> => {
  try {
    return JSON.parse(await readFile(path, "utf8"))
  } catch (cause) {
    if (typeof cause === "object" && cause !== null && "code" in cause && cause.code === "ENOENT") return {}
    throw cause
  }
}

/** A lock held longer than this belongs to a crashed process and is broken. */
const STALE_LOCK_MS = 30_000

/** Holds `${path}.lock` (exclusive create) around `body`; other processes wait for it. */
const withLockFile = async <A>(path: string, body: () => Promise<A>): Promise<A> => {
  const lock = `${path}.lock`
  await mkdir(dirname(path), { recursive: true })
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await open(lock, "wx")
      await handle.close()
      break
    } catch (cause) {
      if (!(typeof cause === "object" && cause !== null && "code" in cause && cause.code === "EEXIST"))
        throw cause
      const age = await stat(lock).then(
        (s) => Date.now() - s.mtimeMs,
        () => 0
      )
      if (age > STALE_LOCK_MS) await rm(lock, { force: true })
      else if (attempt > 500) throw new Error(`${lock} is held by another process; remove it if none runs`)
      else await new Promise((r) => setTimeout(r, 20))
    }
  }
  try {
    return await body()
  } finally {
    await rm(lock, { force: true })
  }
}

/** Builds a TokenStore over the JSON file at `path` (created with mode 0600 on first write). */
export const makeFileTokenStore = (path: string): TokenStore["Service"] => {
  const mutex = Semaphore.makeUnsafe(1)
  const load = Effect.tryPromise({ try: () => readAll(path), catch: storeError(path, "read") }).pipe(
    Effect.flatMap((raw) => Effect.mapError(decodeFile(raw), storeError(path, "decode")))
  )
  return TokenStore.of({
    get: (key) =>
      load.pipe(
        Effect.map((all) => Option.map(Option.fromNullishOr(all[key]), fromStored)),
        mutex.withPermits(1)
      ),
    put: (key, tokens, options) =>
      Effect.tryPromise({
        try: () =>
          withLockFile(path, async () => {
            // Re-read under the lock: another process may have rotated the token since our `get`.
            const all = decodeFileSync(await readAll(path))
            if (options?.expectRefreshToken !== undefined) {
              const current = all[key]
              if (current !== undefined && current.refreshToken !== options.expectRefreshToken) return false
            }
            const next = { ...all, [key]: toStored(tokens) }
            const tmp = `${path}.${process.pid}.${Date.now()}.tmp`
            await writeFile(tmp, JSON.stringify(next, null, 2), { mode: 0o600 })
            await chmod(tmp, 0o600)
            await rename(tmp, path)
            return true
          }),
        catch: storeError(path, `put ${key}`)
      }).pipe(mutex.withPermits(1))
  })
}

/** The file store as a layer. */
export const layerFileTokenStore = (path: string) => Layer.sync(TokenStore, () => makeFileTokenStore(path))
