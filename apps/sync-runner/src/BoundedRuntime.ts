/**
 * Bounded memory for the `kura-sync` and demo processes. Left alone, V8 sizes its heap from the
 * machine's RAM: on this 2-core, 8 GB box a young generation of up to 3 × 64 MB semi-spaces (most
 * of the demo's V8 growth: its old space stayed near its live set) and an old space that collects
 * late; and glibc gives each DuckDB thread its own malloc arena that it rarely returns. All are
 * fixed at process start, so the entry points call `reexecBounded` first: it replaces the process
 * (same pid, `execve`) with one started with `--max-old-space-size`, `--max-semi-space-size` and
 * `MALLOC_ARENA_MAX`.
 *
 * Knobs (environment): `KURA_NODE_HEAP_MB` (V8 old space in MB; `0` keeps Node's sizing),
 * `KURA_NODE_SEMI_SPACE_MB` (V8 semi-space in MB, default 16; `0` keeps Node's sizing),
 * `MALLOC_ARENA_MAX` (default 2). An explicit `--max-old-space-size` / `--max-semi-space-size`
 * (command line or `NODE_OPTIONS`) wins over the variable.
 */

/** Set in the re-executed process so it does not re-execute again. */
export const BOUNDED_MARKER = "KURA_BOUNDED_RUNTIME"

/** What `boundedLaunch` decided. */
export type BoundedLaunch =
  | { readonly _tag: "Keep"; readonly reason: string }
  | { readonly _tag: "Invalid"; readonly message: string }
  | {
      readonly _tag: "Reexec"
      readonly args: ReadonlyArray<string>
      readonly env: Readonly<Record<string, string | undefined>>
      readonly heapMb: number | undefined
      readonly semiSpaceMb: number | undefined
    }

/** The semi-space default: 3 × 16 MB of young generation instead of up to 3 × 64 MB. */
export const DEFAULT_SEMI_SPACE_MB = 16

const hasFlag = (args: ReadonlyArray<string>, flag: string) => args.some((a) => a.startsWith(flag))

/** A size in MB from the environment: the default when unset, undefined for 0, or an error. */
const sizeMb = (
  env: Readonly<Record<string, string | undefined>>,
  name: string,
  fallback: number,
  min: number
): number | undefined | { readonly message: string } => {
  const raw = env[name]?.trim()
  if (raw === undefined || raw === "") return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || (n !== 0 && n < min))
    return {
      message: `${name}=${raw} must be a whole number of MB, at least ${min} (or 0 to keep Node's own sizing)`
    }
  return n === 0 ? undefined : n
}

/**
 * Decides how to start this process bounded (pure, for tests): the Node arguments (without the
 * executable) and environment of the re-executed process, or why to keep this one.
 */
export const boundedLaunch = (input: {
  readonly env: Readonly<Record<string, string | undefined>>
  readonly execArgv: ReadonlyArray<string>
  /** `process.argv.slice(1)`: the script and its arguments. */
  readonly argv: ReadonlyArray<string>
  readonly defaultHeapMb: number
  /** Default `DEFAULT_SEMI_SPACE_MB`. */
  readonly defaultSemiSpaceMb?: number
}): BoundedLaunch => {
  const { env } = input
  if (env[BOUNDED_MARKER] === "1") return { _tag: "Keep", reason: "already bounded" }
  const given = [...input.execArgv, ...(env.NODE_OPTIONS ?? "").split(/\s+/)]
  const heap = sizeMb(env, "KURA_NODE_HEAP_MB", input.defaultHeapMb, 64)
  if (typeof heap === "object") return { _tag: "Invalid", message: heap.message }
  const semi = sizeMb(env, "KURA_NODE_SEMI_SPACE_MB", input.defaultSemiSpaceMb ?? DEFAULT_SEMI_SPACE_MB, 1)
  if (typeof semi === "object") return { _tag: "Invalid", message: semi.message }
  const heapMb = hasFlag(given, "--max-old-space-size") ? undefined : heap
  const semiSpaceMb = hasFlag(given, "--max-semi-space-size") ? undefined : semi
  if (heapMb === undefined && semiSpaceMb === undefined && env.MALLOC_ARENA_MAX !== undefined)
    return { _tag: "Keep", reason: "heap and malloc arenas set by the caller" }
  return {
    _tag: "Reexec",
    args: [
      ...input.execArgv,
      ...(heapMb === undefined ? [] : [`--max-old-space-size=${heapMb}`]),
      ...(semiSpaceMb === undefined ? [] : [`--max-semi-space-size=${semiSpaceMb}`]),
      ...input.argv
    ],
    env: { ...env, [BOUNDED_MARKER]: "1", MALLOC_ARENA_MAX: env.MALLOC_ARENA_MAX ?? "2" },
    heapMb,
    semiSpaceMb
  }
}

/**
 * Re-executes this process bounded (see the module comment), unless it already is. Call it first
 * thing in an entry point. Exits 2 on an invalid `KURA_NODE_HEAP_MB` / `KURA_NODE_SEMI_SPACE_MB`. On a Node without
 * `process.execve` (before 22.15 / 23.11) the process keeps running unbounded.
 */
export const reexecBounded = (defaultHeapMb: number, defaultSemiSpaceMb = DEFAULT_SEMI_SPACE_MB): void => {
  const launch = boundedLaunch({
    env: process.env,
    execArgv: process.execArgv,
    argv: process.argv.slice(1),
    defaultHeapMb,
    defaultSemiSpaceMb
  })
  if (launch._tag === "Invalid") {
    console.error(launch.message)
    process.exit(2)
  }
  if (launch._tag === "Keep" || typeof process.execve !== "function") return
  process.execve(process.execPath, [process.execPath, ...launch.args], launch.env)
}
