/**
 * The sandbox clock: wall-clock timestamps, scaled durations. See `SandboxClock` in contracts.ts.
 */
import type { SandboxClock } from "./contracts.js"

/**
 * Builds a clock that runs durations `timeScale` times faster. `now` is injectable for tests that
 * need a fixed or stepped wall clock; rate limits keep metering on `elapsed` (the process's
 * monotonic clock unless given), so stepping the wall never throttles a test. The calendar
 * (`calendarNow`) starts at `now()` and runs `timeScale` times faster from there.
 */
export const makeClock = (
  timeScale = 1,
  now: () => number = Date.now,
  elapsed: () => number = () => performance.now()
): SandboxClock => {
  if (!(Number.isFinite(timeScale) && timeScale > 0)) {
    throw new RangeError(
      `timeScale must be a positive number (1 = real time, 60 = a minute per second); got ${timeScale}`
    )
  }
  const origin = now()
  return {
    timeScale,
    now,
    scale: (ms: number) => ms / timeScale,
    elapsed,
    calendarNow: () => origin + (now() - origin) * timeScale
  }
}
