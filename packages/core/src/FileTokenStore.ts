/**
 * A durable TokenStore in one JSON file, for deployments whose warehouse keeps no tokens.
 * Lightspeed's refresh tokens are single-use: losing the rotated one between runs locks the account
 * out, and two processes rotating the same token burn it. So:
 * - every write replaces the file atomically (temp file, fsync, rename, fsync of the directory), so
 *   a reader or a crash never sees half a file;
 * - compare-and-set runs under a lock file created with O_EXCL (`wx`), re-reading the file under
 *   the lock, so two processes (on one host or sharing a volume) cannot both rotate one token;
 * - a lock left by a crashed holder is broken: at once when its pid is gone on this host, otherwise
 *   once it is older than `staleLockMillis`. Breaking renames the lock aside (atomic) and puts it
 *   back with `link` if it turned out to be a fresh one, so two breakers never delete a live lock.
 * The file and its temp files are created with mode 0600: they hold secrets.
 */
import { randomUUID } from "node:crypto"
import { chmod, link, mkdir, open, readFile, rename, rm, stat } from "node:fs/promises"
import { hostname } from "node:os"
import { basename, dirname, join } from "node:path"
import { Config, Effect, Layer, Option, Redacted, Schema, Semaphore } from "effect"
import { isDeadLocalProcess } from "./LocalProcess.js"
import { StoreError } from "./StoreError.js"
import { type TokenSet, TokenStore } from "./TokenStore.js"

/** Tuning for the cross-process lock. */
export interface FileTokenStoreOptions {
  /** A lock older than this is treated as left by a crashed process and broken. Default 30 s. */
  readonly staleLockMillis?: number | undefined
  /** How long `put` waits for another process's lock before failing with a StoreError. Default 30 s. */
  readonly lockTimeoutMillis?: number | undefined
  /** Poll interval while waiting for the lock. Default 20 ms. */
  readonly lockPollMillis?: number | undefined
}

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
type StoredToken = typeof StoredToken.Type

const decodeFile = Schema.decodeUnknownSync(StoredFile)

/** What a lock file holds: enough to tell whether its holder still lives. */
const LockOwner = Schema.Struct({ pid: Schema.Number, host: Schema.String, token: Schema.String })
type LockOwner = typeof LockOwner.Type
const decodeOwner = Schema.decodeUnknownOption(Schema.fromJsonString(LockOwner))

const toStored = (t: TokenSet): StoredToken => ({
  accessToken: Redacted.value(t.accessToken),
  refreshToken: t.refreshToken === null ? null : Redacted.value(t.refreshToken),
  expiresAt: t.expiresAt,
  refreshExpiresAt: t.refreshExpiresAt,
  issuedAt: t.issuedAt,
  scope: t.scope
})

const fromStored = (s: StoredToken): TokenSet => ({
  accessToken: Redacted.make(s.accessToken),
  refreshToken: s.refreshToken === null ? null : Redacted.make(s.refreshToken),
  expiresAt: s.expiresAt,
  refreshExpiresAt: s.refreshExpiresAt,
  issuedAt: s.issuedAt,
  scope: s.scope
})

const codeOf = (e: unknown): unknown => Reflect.get(Object(e), "code")

const sleep = (millis: number) => new Promise<void>((resolve) => setTimeout(resolve, millis))

/** Reads and decodes the whole file; a missing file is an empty store. */
const readAll = async (path: string): Promise<StoredFile> => {
  let text: string
  try {
    text = await readFile(path, "utf8")
  } catch (cause) {
    if (codeOf(cause) === "ENOENT") return {}
    throw cause
  }
  try {
    return decodeFile(JSON.parse(text))
  } catch (cause) {
    throw new Error(
      `the file is not a token store (${cause instanceof Error ? cause.message : String(cause)}); restore it from a backup or re-authorize`,
      { cause }
    )
  }
}

/** Writes `text` to `path` atomically and durably (temp file in the same directory, then rename). */
const writeAtomic = async (path: string, text: string): Promise<void> => {
  const dir = dirname(path)
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomUUID()}.tmp`)
  try {
    const handle = await open(tmp, "wx", 0o600)
    try {
      await handle.writeFile(text, "utf8")
      await handle.sync()
    } finally {
      await handle.close()
    }
    // `open`'s mode is filtered by the umask; the file holds secrets, so force 0600.
    await chmod(tmp, 0o600)
    await rename(tmp, path)
  } catch (cause) {
    await rm(tmp, { force: true })
    throw cause
  }
  // The rename is durable only once the directory entry is flushed (not every platform allows it).
  const dirHandle = await open(dir, "r").catch(() => undefined)
  if (dirHandle !== undefined)
    await dirHandle
      .sync()
      .catch(() => undefined)
      .finally(() => dirHandle.close())
}

/** True when the lock's holder is known to be gone: same host and its pid no longer exists. */
const holderIsDead = (owner: LockOwner): boolean => isDeadLocalProcess(owner.host, owner.pid)

interface LockSettings {
  readonly staleLockMillis: number
  readonly lockTimeoutMillis: number
  readonly lockPollMillis: number
}

/** Reads the lock's owner, or undefined when the lock is gone or unreadable (being written). */
const readOwner = async (lock: string): Promise<LockOwner | undefined> => {
  const text = await readFile(lock, "utf8").catch(() => undefined)
  return text === undefined ? undefined : Option.getOrUndefined(decodeOwner(text))
}

/**
 * Breaks `lock` if it is stale. The lock is renamed aside first (only one breaker can move a given
 * lock); if what was moved is not the stale lock that was judged (someone took a fresh one in
 * between), it is linked back, which succeeds only while nobody else holds the lock.
 */
const breakIfStale = async (lock: string, settings: LockSettings): Promise<void> => {
  const info = await stat(lock).catch(() => undefined)
  if (info === undefined) return
  const owner = await readOwner(lock)
  const old = Date.now() - info.mtimeMs > settings.staleLockMillis
  // An unreadable lock younger than the stale age is probably being written right now.
  const dead = owner !== undefined && holderIsDead(owner)
  if (!old && !dead) return
  const aside = `${lock}.${process.pid}.${randomUUID()}.broken`
  try {
    await rename(lock, aside)
  } catch (cause) {
    if (codeOf(cause) === "ENOENT") return
    throw cause
  }
  const moved = await readOwner(aside)
  if (owner !== undefined && moved?.token !== owner.token) await link(aside, lock).catch(() => undefined)
  await rm(aside, { force: true })
}

/** Holds `${path}.lock` around `body`; other processes wait for it, stale locks are broken. */
const withLockFile = async <A>(path: string, settings: LockSettings, body: () => Promise<A>): Promise<A> => {
  const lock = `${path}.lock`
  const me: LockOwner = { pid: process.pid, host: hostname(), token: randomUUID() }
  await mkdir(dirname(path), { recursive: true })
  const deadline = Date.now() + settings.lockTimeoutMillis
  for (;;) {
    try {
      const handle = await open(lock, "wx", 0o600)
      try {
        await handle.writeFile(JSON.stringify(me), "utf8")
      } finally {
        await handle.close()
      }
      break
    } catch (cause) {
      if (codeOf(cause) !== "EEXIST") throw cause
      await breakIfStale(lock, settings)
      if (Date.now() > deadline)
        throw new Error(
          `${lock} is held by another process for more than ${settings.lockTimeoutMillis} ms; remove it if no Kura process runs`
        )
      await sleep(settings.lockPollMillis)
    }
  }
  try {
    return await body()
  } finally {
    // Release only our own lock: if it was broken as stale meanwhile, the file is someone else's.
    if ((await readOwner(lock))?.token === me.token) await rm(lock, { force: true })
  }
}

const storeError = (path: string, operation: string) => (cause: unknown) =>
  new StoreError({
    store: "TokenStore",
    operation,
    message: `token file ${path}: ${cause instanceof Error ? cause.message : String(cause)}`,
    cause
  })

/**
 * A TokenStore over the JSON file at `path` (created, with its directory, on the first `put`).
 * Reads take no lock (the file is only ever replaced whole); `put` with `expectRefreshToken`
 * re-reads under the lock, so a token rotated by another process since our `get` makes it
 * return false instead of overwriting the newer token.
 */
export const makeFileTokenStore = (
  path: string,
  options: FileTokenStoreOptions = {}
): TokenStore["Service"] => {
  const settings: LockSettings = {
    staleLockMillis: options.staleLockMillis ?? 30_000,
    lockTimeoutMillis: options.lockTimeoutMillis ?? 30_000,
    lockPollMillis: options.lockPollMillis ?? 20
  }
  // Fibers of this process queue here instead of spinning on the lock file.
  const mutex = Semaphore.makeUnsafe(1)
  return TokenStore.of({
    get: (key) =>
      Effect.tryPromise({ try: () => readAll(path), catch: storeError(path, `get ${key}`) }).pipe(
        Effect.map((all) => Option.map(Option.fromNullishOr(all[key]), fromStored))
      ),
    put: (key, tokens, putOptions) =>
      Effect.tryPromise({
        try: () =>
          withLockFile(path, settings, async () => {
            const all = await readAll(path)
            const expected = putOptions?.expectRefreshToken
            if (expected !== undefined) {
              const current = all[key]
              if (current !== undefined && current.refreshToken !== expected) return false
            }
            await writeAtomic(path, JSON.stringify({ ...all, [key]: toStored(tokens) }, null, 2))
            return true
          }),
        catch: storeError(path, `put ${key}`)
      }).pipe(mutex.withPermits(1))
  })
}

/**
 * Removes every credential of the token file at `path` whose key `match` accepts, under the same
 * lock and atomic replace as `put`: an erased account (Shopify `shop/redact`) keeps no token with
 * us. Resolves to the keys removed; a missing file removes nothing.
 */
export const removeFileTokens = (
  path: string,
  match: (key: string) => boolean,
  options: FileTokenStoreOptions = {}
): Effect.Effect<ReadonlyArray<string>, StoreError> =>
  Effect.tryPromise({
    try: async () => {
      // Nothing to lock or write when there is no file (the store was never used).
      if ((await stat(path).catch(() => undefined)) === undefined) return []
      return withLockFile(
        path,
        {
          staleLockMillis: options.staleLockMillis ?? 30_000,
          lockTimeoutMillis: options.lockTimeoutMillis ?? 30_000,
          lockPollMillis: options.lockPollMillis ?? 20
        },
        async () => {
          const all = await readAll(path)
          const removed = Object.keys(all).filter(match)
          if (removed.length === 0) return removed
          const kept = Object.fromEntries(Object.entries(all).filter(([k]) => !removed.includes(k)))
          await writeAtomic(path, JSON.stringify(kept, null, 2))
          return removed
        }
      )
    },
    catch: storeError(path, "remove")
  })

/** Layers for the file store (the service is core's `TokenStore`). */
export const FileTokenStore = {
  /** The store over the file at `path`. */
  layer: (path: string, options?: FileTokenStoreOptions): Layer.Layer<TokenStore> =>
    Layer.sync(TokenStore, () => makeFileTokenStore(path, options)),
  /** The store over the file named by KURA_TOKEN_FILE (or the given Config). */
  layerConfig: (
    path: Config.Config<string> = Config.String("KURA_TOKEN_FILE"),
    options?: FileTokenStoreOptions
  ): Layer.Layer<TokenStore, Config.ConfigError> =>
    Layer.effect(
      TokenStore,
      Effect.map(path, (p) => makeFileTokenStore(p, options))
    )
} as const
