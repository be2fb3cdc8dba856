import { existsSync, readFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { describe, expect, it } from "vitest"

// No Docker engine runs here, so the repository's Dockerfile is checked structurally against the
// repository: the manifests once, one build stage, a shared runtime base, one target per app.
const repo = resolve(import.meta.dirname, "../../..")
const text = readFileSync(join(repo, "Dockerfile"), "utf8")

interface Instruction {
  readonly op: string
  readonly args: string
}
const instructions: Array<Instruction> = text
  .replace(/\\\n/g, " ")
  .split("\n")
  .map((l) => l.trim())
  .filter((l) => l !== "" && !l.startsWith("#"))
  .map((l) => {
    const [op, ...rest] = l.split(/\s+/)
    return { op: op!.toUpperCase(), args: rest.join(" ") }
  })

interface Stage {
  readonly image: string
  readonly name: string
  readonly body: Array<Instruction>
}
const stages: Array<Stage> = []
for (const i of instructions) {
  if (i.op === "FROM") {
    const m = /^(\S+)\s+AS\s+(\S+)$/i.exec(i.args)
    stages.push({ image: m?.[1] ?? i.args, name: m?.[2] ?? "", body: [] })
  } else stages.at(-1)?.body.push(i)
}
const stage = (name: string) => stages.find((s) => s.name === name)!
const runtime = stage("runtime")
const fromStage = (s: Stage, from: string) =>
  s.body
    .filter((i) => i.op === "COPY" && i.args.startsWith(`--from=${from} `))
    .map((i) => i.args.split(/\s+/)[1])
const fromBuild = (s: Stage) => fromStage(s, "build")
/** The repository paths a stage COPYs from the build context (not from another stage). */
const contextSources = (s: Stage) =>
  s.body
    .filter((i) => i.op === "COPY" && !i.args.startsWith("--from"))
    .flatMap((i) =>
      i.args
        .split(/\s+/)
        .filter((p) => !p.startsWith("--"))
        .slice(0, -1)
    )
const json = (file: string) => JSON.parse(readFileSync(join(repo, file), "utf8"))

const apps = [
  { target: "sync-runner", dir: "apps/sync-runner", name: "@kura/sync-runner", bin: "kura-sync" },
  { target: "backfill", dir: "apps/backfill", name: "@kura/backfill", bin: "kura-backfill" }
] as const

describe("Dockerfile", () => {
  it("has a manifests stage, a build stage, a runtime base and one target per app (kura-sync last: the default), on Node 24 slim", () => {
    expect(stages.map((s) => s.name)).toEqual(["manifests", "build", "runtime", "backfill", "sync-runner"])
    expect(stage("manifests").image).toBe("scratch")
    for (const s of [stage("build"), runtime])
      expect(s.image).toMatch(/^node:24(\.\d+)*-(bookworm-|trixie-)?slim$/)
    for (const a of apps) expect(stage(a.target).image).toBe("runtime")
  })

  it("builds every app it has a target for", () => {
    const builds = stage("build")
      .body.filter((i) => i.op === "RUN")
      .map((i) => i.args)
    for (const a of apps)
      expect(builds.some((r) => r.includes("nx run-many") && r.includes(a.name))).toBe(true)
  })

  it("copies only files that exist in the repository", () => {
    for (const s of stages)
      for (const i of s.body.filter((x) => x.op === "COPY" && !x.args.startsWith("--from"))) {
        const parts = i.args.split(/\s+/).filter((p) => !p.startsWith("--"))
        for (const source of parts.slice(0, -1)) expect(existsSync(join(repo, source)), source).toBe(true)
      }
  })

  it("lists every workspace manifest once, in the manifests stage, which the build and the runtime base both copy (npm ci needs them to match the lock file)", () => {
    const manifests = stage("manifests")
    const listed = contextSources(manifests)
    const workspaces = Object.keys(json("package-lock.json").packages)
      .filter((k) => /^(packages|apps)\/[^/]+$/.test(k))
      .map((k) => `${k}/package.json`)
    expect(workspaces.length).toBeGreaterThan(0)
    for (const w of ["package.json", "package-lock.json", ...workspaces]) expect(listed, w).toContain(w)
    // Each lands at its own path under /m, which the stages copy whole to their working directory.
    for (const i of manifests.body.filter((x) => x.op === "COPY")) {
      const parts = i.args.split(/\s+/)
      const dest = parts.at(-1)!
      for (const source of parts.slice(0, -1)) {
        const dir = source.includes("/") ? `${source.slice(0, source.lastIndexOf("/"))}/` : ""
        expect(dest, source).toBe(`/m/${dir}`)
      }
    }
    for (const s of [stage("build"), runtime]) expect(fromStage(s, "manifests"), s.name).toEqual(["/m/"])
  })

  it("leaves Node's compile cache off in the images: each container starts once, on a memory /tmp", () => {
    expect(runtime.body).toContainEqual({ op: "ENV", args: "NODE_DISABLE_COMPILE_CACHE=1" })
  })

  it("copies no repository path twice", () => {
    const all = stages.flatMap(contextSources)
    expect(all.filter((p, i) => all.indexOf(p) !== i)).toEqual([])
  })

  for (const app of apps) {
    describe(`target ${app.target}`, () => {
      const target = stage(app.target)
      const pkg = json(`${app.dir}/package.json`)
      const kuraDeps = Object.keys(pkg.dependencies).filter((d) => d.startsWith("@kura/"))

      it("installs only the app's production dependencies", () => {
        const runs = target.body.filter((i) => i.op === "RUN").map((i) => i.args)
        const pattern = new RegExp(`npm ci .*--omit=dev.* -w ${app.name} .*--include-workspace-root=false`)
        expect(runs.some((r) => pattern.test(r))).toBe(true)
      })

      it("runs as a non-root user, after every RUN", () => {
        const users = target.body.filter((i) => i.op === "USER").map((i) => i.args)
        expect(users).toHaveLength(1)
        expect(users[0]).not.toMatch(/^(root|0)(:|$)/)
        const lastRun = target.body.map((i) => i.op).lastIndexOf("RUN")
        expect(target.body.findIndex((i) => i.op === "USER")).toBeGreaterThan(lastRun)
      })

      it("has the built dist of the app and of every @kura package it depends on, with their published folders", () => {
        expect(fromBuild(target)).toContain(`/repo/${app.dir}/dist`)
        const base = fromBuild(runtime)
        for (const dep of kuraDeps) {
          const dir = `packages/${dep.slice("@kura/".length)}`
          expect(base).toContain(`/repo/${dir}/dist`)
          // Folders only: READMEs and changelogs are not needed at run time (e.g. the sandbox's schema/).
          const files: Array<string> = json(`${dir}/package.json`).files ?? []
          for (const f of files.filter((x) => !/\.(md|txt)$/i.test(x) && x !== "dist"))
            if (existsSync(join(repo, dir, f))) expect(base, `${dir}/${f}`).toContain(`/repo/${dir}/${f}`)
        }
      })

      it("starts the app's built bin", () => {
        const bin = `${app.dir}/${String(pkg.bin[app.bin]).replace(/^\.\//, "")}`
        const cmd = target.body.filter((i) => i.op === "CMD").map((i) => JSON.parse(i.args) as Array<string>)
        const entry = target.body
          .filter((i) => i.op === "ENTRYPOINT")
          .map((i) => JSON.parse(i.args) as Array<string>)
        if (app.target === "sync-runner") expect(cmd).toEqual([["node", bin, "serve"]])
        else {
          // Run as a program: its shebang starts node, and main.js re-executes itself bounded.
          expect(entry).toEqual([[`/app/${bin}`]])
          expect(readFileSync(join(repo, app.dir, "tsup.config.ts"), "utf8")).toContain("#!/usr/bin/env node")
        }
        expect(readFileSync(join(repo, app.dir, "tsup.config.ts"), "utf8")).toMatch(
          /entry: \[\s*"src\/main\.ts"/
        )
      })
    })
  }
})
