import { readdirSync, readFileSync, statSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..")

/** Every `.ts` file under `dir`. */
const sources = (dir: string): Array<string> =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? sources(path) : path.endsWith(".ts") ? [path] : []
  })

/** Variables the apps read: quoted names and `env.NAME` accesses (not TypeScript constants). */
const READ =
  /(?:["'`]|env\.)((?:KURA|SHOPIFY|LIGHTSPEED|STOCKY|MALLOC|DUCKDB|CLOUD_RUN)_[A-Z0-9_]*[A-Z0-9_])/g

describe("docs/configuration.md", () => {
  it("lists every variable kura-sync, kura-backfill and the demo read, and none they do not", () => {
    const files = [
      ...sources(join(root, "apps", "sync-runner", "src")),
      ...sources(join(root, "apps", "backfill", "src")),
      join(root, "packages", "core", "src", "BoundedLaunch.ts")
    ]
    const read = new Set(
      files.flatMap((f) => [...readFileSync(f, "utf8").matchAll(READ)].map((m) => m[1] ?? ""))
    )
    const doc = readFileSync(join(root, "docs", "configuration.md"), "utf8")
    const listed = new Set(
      [...doc.matchAll(/`((?:KURA|SHOPIFY|LIGHTSPEED|STOCKY|MALLOC|DUCKDB|CLOUD_RUN)_[A-Z0-9_]+)`/g)].map(
        (m) => m[1] ?? ""
      )
    )
    expect(
      [...read].filter((v) => !listed.has(v)).sort(),
      "read by an app but missing from docs/configuration.md"
    ).toEqual([])
    expect(
      [...listed].filter((v) => !read.has(v)).sort(),
      "listed in docs/configuration.md but read by no app"
    ).toEqual([])
  })
})
