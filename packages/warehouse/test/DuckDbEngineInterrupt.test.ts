import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Logger, Scope } from "effect"
import { makeDuckDbEngine } from "../src/internal/duckdbEngine.js"

// Statements that run for minutes on any machine: the tests only pass if they are stopped.
const LONG_WRITE = "CREATE TABLE big AS SELECT range AS x, md5(range::VARCHAR) AS h FROM range(2000000000)"
const LONG_READ = "SELECT count(*) AS n FROM range(1000000) a, range(1000000) b WHERE a.range + b.range = -1"
// Far above the milliseconds DuckDB takes to stop a statement, far below the statements' minutes.
const BOUND = "40 seconds"

const scratch = () => {
  const dir = mkdtempSync(join(tmpdir(), "kura-engine-interrupt-"))
  return { path: join(dir, "kura.duckdb"), remove: () => rmSync(dir, { recursive: true, force: true }) }
}

const tables = (path: string) =>
  Effect.scoped(
    Effect.gen(function* () {
      const engine = yield* makeDuckDbEngine(path)
      const rows = yield* engine.query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY 1"
      )
      return rows.map((r) => String(r.table_name))
    })
  )

/**
 * Waits until `n` statements are handed to DuckDB (whether DuckDB has begun one yet does not matter:
 * the engine interrupts again until it stops).
 */
const running = (engine: { readonly running: () => number }, n: number) =>
  Effect.gen(function* () {
    while (engine.running() < n) yield* Effect.sleep("10 millis")
  }).pipe(Effect.timeout(BOUND))

describe("DuckDB engine interruption", () => {
  it.live(
    "interrupting a fiber mid-statement stops the statement before the fiber ends; the connection is free at once",
    () =>
      Effect.gen(function* () {
        const db = scratch()
        yield* Effect.addFinalizer(() => Effect.sync(db.remove))
        const engine = yield* makeDuckDbEngine(db.path)
        yield* engine.run("CREATE TABLE kept AS SELECT 1 AS x")
        const fiber = yield* Effect.forkChild(engine.run(LONG_WRITE))
        yield* running(engine, 1)
        const exit = yield* Fiber.interrupt(fiber).pipe(
          Effect.andThen(Fiber.await(fiber)),
          Effect.timeout(BOUND)
        )
        assert.isTrue(Exit.hasInterrupts(exit))
        // Without the interruption the next statement queued behind the write for minutes, and
        // the write then committed although its fiber had been interrupted.
        const rows = yield* engine
          .query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY 1")
          .pipe(Effect.timeout(BOUND))
        assert.deepStrictEqual(
          rows.map((r) => String(r.table_name)),
          ["kept"]
        )
      }).pipe(Effect.scoped)
  )

  it.live(
    "closing the database while a statement runs interrupts it and waits for it; what was committed stays",
    () =>
      Effect.gen(function* () {
        const db = scratch()
        yield* Effect.addFinalizer(() => Effect.sync(db.remove))
        const scope = yield* Scope.make()
        const engine = yield* makeDuckDbEngine(db.path).pipe(Scope.provide(scope))
        yield* engine.run("CREATE TABLE kept AS SELECT 1 AS x")
        // Not a child of anything the close interrupts: as after an interrupted fiber let go of
        // its statement, only the engine itself knows that it runs.
        const write = yield* Effect.forkDetach(engine.run(LONG_WRITE))
        yield* running(engine, 1)
        // Waits for the connection behind the write: the close must not let it start.
        const read = yield* Effect.forkDetach(engine.query(LONG_READ))
        yield* Scope.close(scope, Exit.void).pipe(Effect.timeout(BOUND))
        // Before, a close left the running statement stuck for good: its promise never settled,
        // which kept the process from exiting (and a synchronous close could block behind it).
        const writeExit = yield* Fiber.await(write).pipe(Effect.timeout(BOUND))
        assert.isTrue(Exit.isFailure(writeExit))
        assert.include(
          String(Cause.squash(Exit.isFailure(writeExit) ? writeExit.cause : Cause.empty)),
          "Interrupted"
        )
        const readExit = yield* Fiber.await(read).pipe(Effect.timeout(BOUND))
        assert.isTrue(Exit.isFailure(readExit))
        assert.include(
          String(Cause.squash(Exit.isFailure(readExit) ? readExit.cause : Cause.empty)),
          "closed or closing"
        )
        // The file reopens with the committed table and without the interrupted one.
        assert.deepStrictEqual(yield* tables(db.path), ["kept"])
      }).pipe(Effect.scoped)
  )

  it.live("a statement that outlives the grace leaves the database open instead of blocking the close", () =>
    Effect.gen(function* () {
      const db = scratch()
      yield* Effect.addFinalizer(() => Effect.sync(db.remove))
      const scope = yield* Scope.make()
      const engine = yield* makeDuckDbEngine(db.path, undefined, { interruptGraceMs: 0 }).pipe(
        Scope.provide(scope)
      )
      const read = yield* Effect.forkDetach(engine.query(LONG_READ))
      yield* running(engine, 1)
      const logs: Array<string> = []
      const collect = Logger.make((options) => void logs.push(String(options.message)))
      yield* Scope.close(scope, Exit.void).pipe(
        Effect.provide(Logger.layer([collect])),
        Effect.timeout(BOUND)
      )
      assert.isTrue(logs.some((l) => l.includes("did not stop 1 running statement(s) within 0 ms")))
      // Still interrupted (the close asked once), and nothing blocked meanwhile.
      const readExit = yield* Fiber.await(read).pipe(Effect.timeout(BOUND))
      assert.isTrue(Exit.isFailure(readExit))
    }).pipe(Effect.scoped)
  )
  it.live("the engine's memory is answered while a long statement holds the connection, and after it", () =>
    Effect.gen(function* () {
      const db = scratch()
      yield* Effect.addFinalizer(() => Effect.sync(db.remove))
      const engine = yield* makeDuckDbEngine(db.path)
      const memory = engine.memory
      assert.isDefined(memory)
      if (memory === undefined) return
      yield* engine.run("CREATE TABLE kept AS SELECT range AS x FROM range(200000)")
      const fiber = yield* Effect.forkChild(engine.query(LONG_READ))
      yield* running(engine, 1)
      // A statement on the pool's connection would wait minutes behind LONG_READ; this must not.
      const during = yield* memory.pipe(Effect.timeout("5 seconds"))
      assert.strictEqual(engine.running(), 1, "the long read still runs")
      const base = during.find((m) => m.tag === "BASE_TABLE")
      assert.isDefined(base, `tags: ${during.map((m) => m.tag).join(", ")}`)
      assert.isTrue(during.every((m) => Number.isFinite(m.memoryBytes) && m.memoryBytes >= 0))
      assert.isTrue(during.every((m) => Number.isFinite(m.temporaryBytes) && m.temporaryBytes >= 0))
      // The table just written is held in memory: DuckDB counts it.
      assert.isAbove(base?.memoryBytes ?? 0, 0)
      yield* Fiber.interrupt(fiber).pipe(Effect.timeout(BOUND))
      const after = yield* memory
      assert.deepStrictEqual(
        after.map((m) => m.tag),
        during.map((m) => m.tag)
      )
    }).pipe(Effect.scoped)
  )

  it.live("the engine's memory fails clearly once the database is closed", () =>
    Effect.gen(function* () {
      const db = scratch()
      yield* Effect.addFinalizer(() => Effect.sync(db.remove))
      const scope = yield* Scope.make()
      const engine = yield* makeDuckDbEngine(db.path).pipe(Scope.provide(scope))
      yield* Scope.close(scope, Exit.void)
      const exit = yield* Effect.exit(engine.memory ?? Effect.die("no memory"))
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) assert.include(Cause.pretty(exit.cause), "closed or closing")
    }).pipe(Effect.scoped)
  )
})
