/**
 * The canonical step of a window, kept behind one function: the source → canonical mappers are
 * not exported by @kura/warehouse yet, so for now a window is loaded into the raw lake and
 * `_kura_raw` only (the replay source), and this returns 0 rows. Wiring the mappers here is the
 * only change needed once they land.
 */
import type { StreamKey } from "@kura/core"
import { Effect } from "effect"
import type { PlannedWindow } from "./Plan.js"

/** Loads a window's lake batch into the canonical tables; returns the canonical rows written. */
export const loadCanonical = (
  _window: PlannedWindow,
  _key: StreamKey,
  _lakePath: string
): Effect.Effect<number> => Effect.succeed(0)
