import { spawn, spawnSync } from "node:child_process"
import { mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from "node:fs/promises"
import { hostname, tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Exit, Layer, Option, Redacted } from "effect"
import { FileTokenStore, makeFileTokenStore, type TokenSet, TokenStore } from "../src/index.js"
import { failure } from "./support/exit.js"

const tokens = (refresh: string, access = `a-${refresh}`): TokenSet => ({
  accessToken: Redacted.make(access),
  refreshToken: Redacted.make(refresh),
  expiresAt: 1_000,
  refreshExpiresAt: null,
  issuedAt: 1,
  scope: "read"
})

const withDir = <A, E>(body: (dir: string) => Effect.Effect<A, E>) =>
  Effect.acquireUseRelease(
    Effect.promise(() => mkdtemp(join(tmpdir(), "kura-tokens-"))),
    body,
    (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
  )

const refreshOf = (set: Option.Option<TokenSet>): string | null =>
  Option.isSome(set) && set.value.refreshToken !== null ? Redacted.value(set.value.refreshToken) : null

const hooks = fileURLToPath(new URL("./support/tsHooks.mjs", import.meta.url))
const worker = fileURLToPath(new URL("./support/tokenWorker.ts", import.meta.url))

/** A worker in its own Node process; `go()` starts its rounds, `done` has the rotations it won. */
const startWorker = (path: string, name: string, rounds: number) => {
  const child = spawn(process.execPath, ["--import", hooks, worker, path, name, String(rounds)], {
    stdio: ["pipe", "pipe", "pipe"]
  })
  let out = ""
  let err = ""
  let markReady: () => void = () => {}
  const ready = new Promise<void>((resolve) => {
    markReady = resolve
  })
  child.stdout.on("data", (d) => {
    out += d
    if (out.startsWith("ready\n")) markReady()
  })
  child.stderr.on("data", (d) => {
    err += d
  })
  const done = new Promise<Array<{ from: string; to: string }>>((resolve, reject) => {
    child.on("error", reject)
    child.on("exit", (code) =>
      code === 0
        ? resolve(
            out
              .split("\n")
              .filter((l) => l !== "" && l !== "ready")
              .map((l) => JSON.parse(l))
          )
        : reject(new Error(`worker ${name} exited ${code}: ${err}`))
    )
  })
  return { ready, done, go: () => child.stdin.end("go\n") }
}

/** Starts both workers, releases them together once both are loaded, and waits for both. */
const race = async (path: string, rounds: number) => {
  const a = startWorker(path, "a", rounds)
  const b = startWorker(path, "b", rounds)
  await Promise.all([a.ready, b.ready])
  a.go()
  b.go()
  return Promise.all([a.done, b.done])
}

describe("FileTokenStore", () => {
  it.live("round-trips a token set through a 0600 file and leaves no lock or temp file behind", () =>
    withDir((dir) =>
      Effect.gen(function* () {
        const path = join(dir, "nested", "tokens.json")
        const store = makeFileTokenStore(path)
        assert.isTrue(Option.isNone(yield* store.get("k")))
        assert.isTrue(yield* store.put("k", tokens("r1")))
        assert.isTrue(yield* store.put("other", tokens("x")))
        const back = yield* store.get("k")
        assert.strictEqual(refreshOf(back), "r1")
        if (Option.isSome(back)) {
          assert.strictEqual(Redacted.value(back.value.accessToken), "a-r1")
          assert.strictEqual(back.value.expiresAt, 1_000)
          assert.strictEqual(back.value.scope, "read")
        }
        // A second store over the same file (another run) sees both keys.
        assert.strictEqual(refreshOf(yield* makeFileTokenStore(path).get("other")), "x")
        const info = yield* Effect.promise(() => stat(path))
        assert.strictEqual(info.mode & 0o777, 0o600)
        assert.deepStrictEqual(yield* Effect.promise(() => readdir(join(dir, "nested"))), ["tokens.json"])
      })
    )
  )

  it.live("compare-and-set: a put expecting a refresh token that was rotated meanwhile returns false", () =>
    withDir((dir) =>
      Effect.gen(function* () {
        const path = join(dir, "tokens.json")
        const a = makeFileTokenStore(path)
        const b = makeFileTokenStore(path)
        yield* a.put("k", tokens("r1"))
        assert.isTrue(yield* a.put("k", tokens("r2"), { expectRefreshToken: "r1" }))
        assert.isFalse(yield* b.put("k", tokens("r2-b"), { expectRefreshToken: "r1" }))
        assert.strictEqual(refreshOf(yield* b.get("k")), "r2")
        // No stored set yet: the expectation cannot be violated, so the first write wins.
        assert.isTrue(yield* b.put("new", tokens("n1"), { expectRefreshToken: "whatever" }))
      })
    )
  )

  it.live("fibers of one process racing on one token: exactly one rotation wins", () =>
    withDir((dir) =>
      Effect.gen(function* () {
        const store = makeFileTokenStore(join(dir, "tokens.json"))
        yield* store.put("k", tokens("r0"))
        const wins = yield* Effect.forEach(
          Array.from({ length: 8 }, (_, i) => i),
          (i) => store.put("k", tokens(`r1-${i}`), { expectRefreshToken: "r0" }),
          { concurrency: "unbounded" }
        )
        assert.strictEqual(wins.filter(Boolean).length, 1)
      })
    )
  )

  it.live(
    "two processes racing: no refresh token is ever rotated twice and the file holds the last winner",
    () =>
      withDir((dir) =>
        Effect.gen(function* () {
          const path = join(dir, "tokens.json")
          yield* makeFileTokenStore(path).put("k", tokens("seed"))
          const [a, b] = yield* Effect.promise(() => race(path, 40))
          const all = [...a, ...b]
          // Both processes won some rounds, so they really did interleave on the lock.
          assert.isAbove(a.length, 0)
          assert.isAbove(b.length, 0)
          const froms = all.map((w) => w.from)
          assert.strictEqual(new Set(froms).size, froms.length, "a refresh token was consumed twice")
          // The rotations form one chain from the seed: every token but the last was consumed once.
          const next = new Map(all.map((w) => [w.from, w.to]))
          let at = "seed"
          let steps = 0
          while (next.has(at)) {
            at = next.get(at) as string
            steps++
          }
          assert.strictEqual(steps, all.length)
          assert.strictEqual(refreshOf(yield* makeFileTokenStore(path).get("k")), at)
          assert.deepStrictEqual(yield* Effect.promise(() => readdir(dir)), ["tokens.json"])
        })
      ),
    60_000
  )

  it.live("breaks at once a lock whose holder process is gone on this host", () =>
    withDir((dir) =>
      Effect.gen(function* () {
        const path = join(dir, "tokens.json")
        const gone = spawnSync(process.execPath, ["-e", ""]).pid
        yield* Effect.promise(() =>
          writeFile(`${path}.lock`, JSON.stringify({ pid: gone, host: hostname(), token: "old" }))
        )
        const store = makeFileTokenStore(path, { staleLockMillis: 3_600_000, lockTimeoutMillis: 2_000 })
        assert.isTrue(yield* store.put("k", tokens("r1")))
        assert.deepStrictEqual(yield* Effect.promise(() => readdir(dir)), ["tokens.json"])
      })
    )
  )

  it.live("waits for a live holder, then breaks its lock only once it is older than staleLockMillis", () =>
    withDir((dir) =>
      Effect.gen(function* () {
        const path = join(dir, "tokens.json")
        const lock = `${path}.lock`
        // Held by this (live) process: not dead, so only age can break it.
        yield* Effect.promise(() =>
          writeFile(lock, JSON.stringify({ pid: process.pid, host: hostname(), token: "live" }))
        )
        const impatient = makeFileTokenStore(path, { staleLockMillis: 60_000, lockTimeoutMillis: 150 })
        const error = failure(yield* Effect.exit(impatient.put("k", tokens("r1"))))
        assert.strictEqual(error._tag, "StoreError")
        assert.match(error.message, /tokens\.json\.lock is held by another process/)
        assert.strictEqual(JSON.parse(yield* Effect.promise(() => readFile(lock, "utf8"))).token, "live")
        // Age it past the stale limit: now it is broken.
        const past = new Date(Date.now() - 120_000)
        yield* Effect.promise(() => utimes(lock, past, past))
        assert.isTrue(yield* impatient.put("k", tokens("r1")))
        assert.deepStrictEqual(yield* Effect.promise(() => readdir(dir)), ["tokens.json"])
      })
    )
  )

  it.live("a corrupt file fails with a StoreError naming the file and the fix, and is not overwritten", () =>
    withDir((dir) =>
      Effect.gen(function* () {
        const path = join(dir, "tokens.json")
        yield* Effect.promise(() => writeFile(path, '{"k": {"accessToken": 1}}'))
        const store = makeFileTokenStore(path)
        const read = failure(yield* Effect.exit(store.get("k")))
        assert.strictEqual(read.store, "TokenStore")
        assert.include(read.message, path)
        assert.include(read.message, "re-authorize")
        const write = yield* Effect.exit(store.put("k", tokens("r1")))
        assert.isTrue(Exit.isFailure(write))
        assert.strictEqual(yield* Effect.promise(() => readFile(path, "utf8")), '{"k": {"accessToken": 1}}')
      })
    )
  )

  it.live("FileTokenStore.layer provides core's TokenStore", () =>
    withDir((dir) =>
      Effect.gen(function* () {
        const store = yield* TokenStore
        yield* store.put("k", tokens("r9"))
        assert.strictEqual(refreshOf(yield* store.get("k")), "r9")
      }).pipe(Effect.provide(FileTokenStore.layer(join(dir, "t.json"))))
    )
  )
  it.live("FileTokenStore.layerConfig reads KURA_TOKEN_FILE and fails naming it when unset", () =>
    withDir((dir) =>
      Effect.gen(function* () {
        const path = join(dir, "from-env.json")
        yield* Effect.gen(function* () {
          const store = yield* TokenStore
          yield* store.put("k", tokens("env"))
        }).pipe(
          Effect.provide(FileTokenStore.layerConfig()),
          Effect.provideService(
            ConfigProvider.ConfigProvider,
            ConfigProvider.fromEnv({ env: { KURA_TOKEN_FILE: path } })
          )
        )
        assert.strictEqual(refreshOf(yield* makeFileTokenStore(path).get("k")), "env")
        const missing = yield* Effect.flip(
          Layer.build(FileTokenStore.layerConfig()).pipe(
            Effect.scoped,
            Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env: {} }))
          )
        )
        assert.include(missing.message, "KURA_TOKEN_FILE")
      })
    )
  )
})
