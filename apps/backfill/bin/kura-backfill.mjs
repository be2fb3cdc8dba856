#!/usr/bin/env node
// `kura-backfill`, as npm links it: a committed file, so `npm ci` links the command before anything is
// built (npm links only the bins whose file exists at install time). It runs the built entry.
import { existsSync } from "node:fs"

const entry = new URL("../dist/main.js", import.meta.url)
if (!existsSync(entry)) {
  console.error(
    "kura-backfill is not built yet: run `npm run build` in the Kura checkout first, then run it again"
  )
  process.exit(1)
}
await import(entry.href)
