/**
 * A debugging aid for memory (`KURA_BACKFILL_MEMORY_TRACE=<file>`): which phase of a window the
 * process's RSS peaks in. Phases overlap (up to `--concurrency` windows fetch and pack while one
 * loads), so a sampler reads `/proc/self/status` every few milliseconds and charges each rise of
 * the high-water mark (`VmHWM`, which also catches spikes between two samples) to the phases that
 * were running, and each phase's end writes one line with the process's memory then. Off by
 * default: the no-op trace runs the effect as it is.
 */
import { appendFileSync, readFileSync, writeFileSync } from "node:fs"
import { Effect } from "effect"

/** Phase timing and memory of a run, for one debugging session. */
export interface MemoryTrace {
  /** Runs `effect` as phase `name` of window `window`. */
  readonly phase: <A, E, R>(
    window: string,
    name: string,
    effect: Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E, R>
  /** Stops the sampler and returns the per-phase summary (empty when tracing is off). */
  readonly finish: () => string
}

/** No tracing. */
export const noMemoryTrace: MemoryTrace = { phase: (_w, _n, effect) => effect, finish: () => "" }

const MIB = 2 ** 20
const mib = (n: number) => Math.round(n / MIB)

interface Status {
  readonly rss: number
  readonly hwm: number
  readonly anon: number
}

const readStatus = (): Status => {
  const text = readFileSync("/proc/self/status", "utf8")
  const kb = (field: string) => {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(text)
    return m === null ? 0 : Number(m[1]) * 1024
  }
  return { rss: kb("VmRSS"), hwm: kb("VmHWM"), anon: kb("RssAnon") }
}

interface PhaseStats {
  runs: number
  millis: number
  /** Largest RSS sampled while the phase ran. */
  maxRss: number
  /** High-water-mark rises while the phase ran (shared with the phases running alongside). */
  hwmRise: number
  /** Largest RSS rise from the phase's start to a sample inside it. */
  maxRiseInPhase: number
}

/**
 * A sampling trace writing to `file` (one line per phase end, a summary at `finish`), sampling
 * every `everyMillis` (default 10).
 */
export const fileMemoryTrace = (file: string, everyMillis = 10): MemoryTrace => {
  writeFileSync(file, "")
  const t0 = Date.now()
  const active = new Map<number, { window: string; name: string; startRss: number; maxRss: number }>()
  const stats = new Map<string, PhaseStats>()
  let nextId = 0
  let last = readStatus()
  let top: Array<{ rss: number; at: number; phases: string }> = []
  const statsOf = (name: string) => {
    let s = stats.get(name)
    if (s === undefined) {
      s = { runs: 0, millis: 0, maxRss: 0, hwmRise: 0, maxRiseInPhase: 0 }
      stats.set(name, s)
    }
    return s
  }
  const sample = () => {
    const now = readStatus()
    const phases = [...active.values()]
    const names = new Set(phases.map((p) => p.name))
    if (now.hwm > last.hwm) {
      for (const n of names) statsOf(n).hwmRise += now.hwm - last.hwm
      if (names.size === 0) statsOf("(between phases)").hwmRise += now.hwm - last.hwm
    }
    for (const p of phases) p.maxRss = Math.max(p.maxRss, now.rss)
    for (const n of names) {
      const s = statsOf(n)
      s.maxRss = Math.max(s.maxRss, now.rss)
    }
    if (top.length < 12 || now.rss > (top.at(-1)?.rss ?? 0)) {
      top.push({
        rss: now.rss,
        at: Date.now() - t0,
        phases: phases.map((p) => `${p.name}@${p.window}`).join(" ")
      })
      top.sort((a, b) => b.rss - a.rss)
      // One entry per second at most: a plateau should not fill the list.
      const seen = new Set<number>()
      top = top.filter((e) => {
        const s = Math.floor(e.at / 1000)
        if (seen.has(s)) return false
        seen.add(s)
        return true
      })
      top = top.slice(0, 12)
    }
    last = now
  }
  const timer = setInterval(sample, everyMillis)
  timer.unref()
  const write = (line: string) => appendFileSync(file, `${line}\n`)
  return {
    phase: (window, name, effect) =>
      Effect.suspend(() => {
        const id = nextId++
        const begin = readStatus()
        const started = Date.now()
        active.set(id, { window, name, startRss: begin.rss, maxRss: begin.rss })
        return effect.pipe(
          Effect.onExit((exit) =>
            Effect.sync(() => {
              sample()
              const p = active.get(id)
              active.delete(id)
              const end = readStatus()
              const mu = process.memoryUsage()
              const s = statsOf(name)
              s.runs++
              s.millis += Date.now() - started
              if (p !== undefined) s.maxRiseInPhase = Math.max(s.maxRiseInPhase, p.maxRss - p.startRss)
              write(
                `t=${((Date.now() - t0) / 1000).toFixed(1)}s ${name}${exit._tag === "Failure" ? " FAILED" : ""} ${window} ms=${Date.now() - started} rss ${mib(begin.rss)}->${mib(end.rss)} max ${mib(p?.maxRss ?? end.rss)} hwm ${mib(end.hwm)} anon ${mib(end.anon)} heapUsed ${mib(mu.heapUsed)} heapTotal ${mib(mu.heapTotal)} external ${mib(mu.external)} arrayBuffers ${mib(mu.arrayBuffers)} alongside [${[
                  ...active.values()
                ]
                  .map((a) => `${a.name}@${a.window}`)
                  .join(" ")}]`
              )
            })
          )
        )
      }),
    finish: () => {
      clearInterval(timer)
      sample()
      const rows = [...stats.entries()]
        .sort((a, b) => b[1].maxRss - a[1].maxRss)
        .map(
          ([n, s]) =>
            `  ${n}: runs ${s.runs}, ${(s.millis / 1000).toFixed(1)} s, max RSS ${mib(s.maxRss)} MiB, largest rise inside ${mib(s.maxRiseInPhase)} MiB, high-water rises while running ${mib(s.hwmRise)} MiB`
        )
      const peaks = top.map(
        (e) => `  ${mib(e.rss)} MiB at ${(e.at / 1000).toFixed(1)} s: ${e.phases || "(no phase)"}`
      )
      const text = [
        `Memory trace: high-water mark ${mib(last.hwm)} MiB`,
        "By phase (max RSS sampled while it ran):",
        ...rows,
        "Largest samples (one per second):",
        ...peaks
      ].join("\n")
      write(text)
      return text
    }
  }
}
