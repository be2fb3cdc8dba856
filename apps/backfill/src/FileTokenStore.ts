/**
 * A durable TokenStore in one JSON file, used until the warehouse keeps tokens itself. Lightspeed
 * refresh tokens are single-use: the rotated token must survive a crash or the account is locked
 * out. So every write replaces the file atomically (temp file, then rename), and compare-and-set
 * runs under an exclusive lock file, so two tasks of one job never both rotate one token.
 * (The sync runner has its own copy; both should move into a library.)
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
const decodeFile = Schema.decodeUnknownSync(StoredFile)

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

const codeOf = (e: unknown): unknown =>
  typeof e === "object" && e !== null && "code" in e ? e.code : undefined

const readAll = async (path: string): Promise<StoredFile> => {
  try {
    return decodeFile(JSON.parse(await readFile(path, "utf8")))
  } catch (cause) {
    if (codeOf(cause) === "ENOENT") return {}
    throw cause
  }
}

/** A lock older than this was left by a crashed process and is broken. */
const STALE_LOCK_MS = 30_000

const withLockFile = async <A>(path: string, body: () => Promise<A>): Promise<A> => {
  const lock = `${path}.lock`
  await mkdir(dirname(path), { recursive: true })
  for (let attempt = 0; ; attempt++) {
    try {
      await (await open(lock, "wx")).close()
      break
    } catch (cause) {
      if (codeOf(cause) !== "EEXIST") throw cause
      const age = await stat(lock).then(
        (s) => Date.now() - s.mtimeMs,
        () => 0
      )
      if (age > STALE_LOCK_MS) await rm(lock, { force: true })
      else if (attempt > 1500) throw new Error(`${lock} is held by another process; remove it if none runs`)
      else await new Promise((r) => setTimeout(r, 20))
    }
  }
  try {
    return await body()
  } finally {
    await rm(lock, { force: true })
  }
}

const storeError = (path: string, operation: string) => (cause: unknown) =>
  new StoreError({
    store: "TokenStore",
    operation,
    message: `token file ${path}: ${cause instanceof Error ? cause.message : String(cause)}`,
    cause
  })

/** A TokenStore over the JSON file at `path` (mode 0600). */
export const makeFileTokenStore = (path: string): TokenStore["Service"] => {
  const mutex = Semaphore.makeUnsafe(1)
  return TokenStore.of({
    get: (key) =>
      Effect.tryPromise({ try: () => readAll(path), catch: storeError(path, `get ${key}`) }).pipe(
        Effect.map((all) => Option.map(Option.fromNullishOr(all[key]), fromStored)),
        mutex.withPermits(1)
      ),
    put: (key, tokens, options) =>
      Effect.tryPromise({
        try: () =>
          withLockFile(path, async () => {
            // Re-read under the lock: another process may have rotated the token since our read.
            const all = await readAll(path)
            const expected = options?.expectRefreshToken
            if (expected !== undefined) {
              const current = all[key]
              if (current !== undefined && current.refreshToken !== expected) return false
            }
            const tmp = `${path}.${process.pid}.${Date.now()}.tmp`
            await writeFile(tmp, JSON.stringify({ ...all, [key]: toStored(tokens) }, null, 2), {
              mode: 0o600
            })
            await chmod(tmp, 0o600)
            await rename(tmp, path)
            return true
          }),
        catch: storeError(path, `put ${key}`)
      }).pipe(mutex.withPermits(1))
  })
}

/** The file store as a layer. */
export const layer = (path: string): Layer.Layer<TokenStore> =>
  Layer.sync(TokenStore, () => makeFileTokenStore(path))
