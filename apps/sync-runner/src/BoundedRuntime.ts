/**
 * Bounded memory for the `kura-sync` and demo processes: the entry points call `reexecBounded`
 * first, which re-executes the process (same pid) with a bounded V8 heap and glibc malloc settings
 * (`@kura/core/bounded-launch`, shared with `kura-backfill`; the knobs are described there and in
 * the README). This module only hands the app's environment to it: libraries never read
 * `process.env` themselves.
 */
import { reexecBounded as launchBounded } from "@kura/core/bounded-launch"

export { BOUNDED_MARKER, boundedLaunch, DEFAULT_SEMI_SPACE_MB } from "@kura/core/bounded-launch"

/**
 * Re-executes this process bounded unless it already is (exit 2 on an invalid knob). Call it before
 * importing the app's modules: they would be loaded twice otherwise.
 */
export const reexecBounded = (defaultHeapMb: number, defaultSemiSpaceMb?: number): void =>
  launchBounded({
    env: process.env,
    defaultHeapMb,
    ...(defaultSemiSpaceMb === undefined ? {} : { defaultSemiSpaceMb })
  })
