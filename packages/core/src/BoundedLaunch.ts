/**
 * Bounded memory for Kura's processes (`kura-sync`, `kura-backfill`, the demo). Left alone, V8
 * sizes its heap from the machine's RAM (a young generation of up to 3 × 64 MB semi-spaces and an
 * old space that collects late), and glibc malloc gives each DuckDB thread its own arena and keeps
 * freed memory instead of returning it. All of that is fixed when the process starts, so an entry
 * point calls `reexecBounded` first: it replaces the process (same pid, `execve`) with one started
 * with `--max-old-space-size`, `--max-semi-space-size` and the malloc settings in its environment.
 *
 * This module imports nothing (no effect, no axios): it is the subpath `@kura/core/bounded-launch`
 * so that an entry point can call it before loading anything it would throw away on re-exec.
 *
 * Knobs (environment of the process): `KURA_NODE_HEAP_MB` (V8 old space in MB; `0` keeps Node's
 * sizing), `KURA_NODE_SEMI_SPACE_MB` (V8 semi-space in MB; `0` keeps Node's sizing), and glibc's
 * own `MALLOC_ARENA_MAX`, `MALLOC_MMAP_THRESHOLD_`, `MALLOC_TRIM_THRESHOLD_` (defaults in
 * `DEFAULT_MALLOC_ENV`; a value set by the caller wins, `KURA_MALLOC_DEFAULTS=0` sets none). An
 * explicit `--max-old-space-size` / `--max-semi-space-size` (command line or `NODE_OPTIONS`) wins
 * over the variables.
 */

/** Set in the re-executed process so it does not re-execute again. */
export const BOUNDED_MARKER = "KURA_BOUNDED_RUNTIME"

/** The semi-space default: 3 × 16 MB of young generation instead of up to 3 × 64 MB. */
export const DEFAULT_SEMI_SPACE_MB = 16

/**
 * glibc malloc settings applied unless the caller sets them: two arenas instead of one per thread
 * (8 × cores), which DuckDB's threads otherwise each fill and keep. `MALLOC_MMAP_THRESHOLD_` and
 * `MALLOC_TRIM_THRESHOLD_` are validated knobs but not defaults: a fixed 128 KiB threshold (which
 * stops glibc raising it as large blocks are freed, so DuckDB's buffers are mmapped and returned
 * on free) cut a 14-window backfill reproduction's peak only within its noise, while the DuckDB
 * allocator flush settings did flatten it (apps/backfill BENCHMARKS.md §6), and it costs a system
 * call per large allocation on latency-bound paths such as webhook intake.
 */
export const DEFAULT_MALLOC_ENV: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: "2"
}

/** The glibc malloc variables this module validates (glibc silently ignores a malformed one). */
export const MALLOC_KNOBS: ReadonlyArray<string> = [
  "MALLOC_ARENA_MAX",
  "MALLOC_MMAP_THRESHOLD_",
  "MALLOC_TRIM_THRESHOLD_"
]

/** An environment, as `process.env`. */
export type Env = Readonly<Record<string, string | undefined>>

/** What `boundedLaunch` decided. */
export type BoundedLaunch =
  | { readonly _tag: "Keep"; readonly reason: string }
  | { readonly _tag: "Invalid"; readonly message: string }
  | {
      readonly _tag: "Reexec"
      /** Node's arguments (without the executable): its flags, then the script and its arguments. */
      readonly args: ReadonlyArray<string>
      readonly env: Env
      readonly heapMb: number | undefined
      readonly semiSpaceMb: number | undefined
    }

/** Input of `boundedLaunch`. */
export interface BoundedLaunchInput {
  readonly env: Env
  /** `process.execArgv`. */
  readonly execArgv: ReadonlyArray<string>
  /** `process.argv.slice(1)`: the script and its arguments. */
  readonly argv: ReadonlyArray<string>
  /** V8 old space in MB when `KURA_NODE_HEAP_MB` is unset. */
  readonly defaultHeapMb: number
  /** Default `DEFAULT_SEMI_SPACE_MB`. */
  readonly defaultSemiSpaceMb?: number
  /** Default `DEFAULT_MALLOC_ENV`. */
  readonly defaultMalloc?: Readonly<Record<string, string>>
}

const hasFlag = (args: ReadonlyArray<string>, flag: string) => args.some((a) => a.startsWith(flag))

/** A size in MB from the environment: the default when unset, undefined for 0, or an error. */
const sizeMb = (
  env: Env,
  name: string,
  fallback: number,
  min: number
): number | undefined | { message: string } => {
  const raw = env[name]?.trim()
  if (raw === undefined || raw === "") return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || (n !== 0 && n < min))
    return {
      message: `${name}=${raw} must be a whole number of MB, at least ${min} (or 0 to keep Node's own sizing)`
    }
  return n === 0 ? undefined : n
}

/** glibc reads these as whole numbers; anything else it ignores silently, so refuse it here. */
const mallocProblem = (env: Env, names: ReadonlyArray<string>): string | undefined => {
  for (const name of names) {
    const raw = env[name]
    if (raw === undefined) continue
    const min = name === "MALLOC_ARENA_MAX" ? 1 : 0
    if (!/^\d+$/.test(raw.trim()) || Number(raw) < min)
      return `${name}=${raw} must be a whole number${min === 1 ? " of arenas, at least 1" : " of bytes"} (glibc ignores anything else)`
  }
  return undefined
}

/**
 * Decides how to start this process bounded (pure, for tests): the Node arguments and environment
 * of the re-executed process, or why to keep this one.
 */
export const boundedLaunch = (input: BoundedLaunchInput): BoundedLaunch => {
  const { env } = input
  if (env[BOUNDED_MARKER] === "1") return { _tag: "Keep", reason: "already bounded" }
  const given = [...input.execArgv, ...(env.NODE_OPTIONS ?? "").split(/\s+/)]
  const heap = sizeMb(env, "KURA_NODE_HEAP_MB", input.defaultHeapMb, 64)
  if (typeof heap === "object") return { _tag: "Invalid", message: heap.message }
  const semi = sizeMb(env, "KURA_NODE_SEMI_SPACE_MB", input.defaultSemiSpaceMb ?? DEFAULT_SEMI_SPACE_MB, 1)
  if (typeof semi === "object") return { _tag: "Invalid", message: semi.message }
  const defaults = env.KURA_MALLOC_DEFAULTS?.trim() === "0" ? {} : (input.defaultMalloc ?? DEFAULT_MALLOC_ENV)
  const problem = mallocProblem(env, [...new Set([...MALLOC_KNOBS, ...Object.keys(defaults)])])
  if (problem !== undefined) return { _tag: "Invalid", message: problem }
  const heapMb = hasFlag(given, "--max-old-space-size") ? undefined : heap
  const semiSpaceMb = hasFlag(given, "--max-semi-space-size") ? undefined : semi
  const malloc = Object.fromEntries(Object.entries(defaults).filter(([name]) => env[name] === undefined))
  if (heapMb === undefined && semiSpaceMb === undefined && Object.keys(malloc).length === 0)
    return { _tag: "Keep", reason: "heap and malloc settings set by the caller" }
  return {
    _tag: "Reexec",
    args: [
      ...input.execArgv,
      ...(heapMb === undefined ? [] : [`--max-old-space-size=${heapMb}`]),
      ...(semiSpaceMb === undefined ? [] : [`--max-semi-space-size=${semiSpaceMb}`]),
      ...input.argv
    ],
    env: { ...env, ...malloc, [BOUNDED_MARKER]: "1" },
    heapMb,
    semiSpaceMb
  }
}

/** Options of `reexecBounded`. */
export interface ReexecOptions {
  /** The app's environment (`process.env`): libraries do not read it themselves. */
  readonly env: Env
  /** V8 old space in MB when `KURA_NODE_HEAP_MB` is unset. */
  readonly defaultHeapMb: number
  /** Default `DEFAULT_SEMI_SPACE_MB`. */
  readonly defaultSemiSpaceMb?: number
  /** Default `DEFAULT_MALLOC_ENV`. */
  readonly defaultMalloc?: Readonly<Record<string, string>>
}

/**
 * Re-executes this process bounded (see the module comment), unless it already is. Call it first
 * thing in an entry point, before importing the app. Exits 2 with the message on an invalid knob.
 * On a Node without `process.execve` (before 22.15 / 23.11) the process keeps running unbounded.
 */
export const reexecBounded = (options: ReexecOptions): void => {
  const launch = boundedLaunch({
    env: options.env,
    execArgv: process.execArgv,
    argv: process.argv.slice(1),
    defaultHeapMb: options.defaultHeapMb,
    ...(options.defaultSemiSpaceMb === undefined ? {} : { defaultSemiSpaceMb: options.defaultSemiSpaceMb }),
    ...(options.defaultMalloc === undefined ? {} : { defaultMalloc: options.defaultMalloc })
  })
  if (launch._tag === "Invalid") {
    console.error(launch.message)
    process.exit(2)
  }
  if (launch._tag === "Keep" || typeof process.execve !== "function") return
  process.execve(process.execPath, [process.execPath, ...launch.args], launch.env)
}
