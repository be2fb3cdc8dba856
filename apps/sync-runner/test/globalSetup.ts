/**
 * Builds the app ONCE per test run for the tests that drive the built `kura-sync` (as Cloud Run
 * runs it), instead of once per test file. It builds into a private folder inside the app (so
 * packages resolve as from dist/), unique to this run, so a concurrent `nx build` cleaning dist/ or
 * another test run cannot pull the entry away mid-test.
 */
import { execFile } from "node:child_process"
import { rm } from "node:fs/promises"
import { join, resolve } from "node:path"
import { promisify } from "node:util"
import type { TestProject } from "vitest/node"

declare module "vitest" {
  export interface ProvidedContext {
    /** The folder holding the built app (`main.js`, `demo.js`). */
    readonly builtAppDir: string
    /** Node's compile cache for every built kura-sync the tests start (`spawnEnv`). */
    readonly compileCacheDir: string
  }
}

export default async function setup(project: TestProject) {
  const appDir = resolve(import.meta.dirname, "..")
  const outDir = join(appDir, "node_modules", ".cache", `kura-sync-test-dist-${process.pid}`)
  await promisify(execFile)(
    process.execPath,
    [join(appDir, "../../node_modules/tsup/dist/cli-default.js"), "--out-dir", outDir],
    { cwd: appDir }
  )
  project.provide("builtAppDir", outDir)
  // Inside the private build folder: it lives and goes with this run's build.
  project.provide("compileCacheDir", join(outDir, ".compile-cache"))
  return () => rm(outDir, { recursive: true, force: true })
}
