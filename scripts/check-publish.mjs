#!/usr/bin/env node
// Proves a library is publishable: publint, are-the-types-wrong, and a smoke test that packs the
// package and imports the tarball from a scratch project as both ESM and CJS. Run from a package
// directory (nx runs it as each library's `check-publish` target).
import { execFileSync } from "node:child_process"
import fs from "node:fs"
import os from "node:os"
import path from "node:path"

const pkgDir = process.cwd()
const root = path.resolve(pkgDir, "../..")
const pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, "package.json"), "utf8"))
const bin = (name) => path.join(root, "node_modules", ".bin", name)
const run = (cmd, args, opts = {}) =>
  execFileSync(cmd, args, { stdio: ["ignore", "pipe", "pipe"], encoding: "utf8", ...opts })

/** Per package, a statement run against the imported module `m` in both the ESM and CJS smoke tests. */
const SMOKE = {
  "@kura/core": "m.makeHttpTransport();"
}

const step = (label, fn) => {
  try {
    const out = fn()
    console.log(`✓ ${pkg.name}: ${label}`)
    return out
  } catch (error) {
    console.error(`✗ ${pkg.name}: ${label}`)
    console.error(String(error.stdout ?? ""), String(error.stderr ?? ""), error.stdout ? "" : error)
    process.exit(1)
  }
}

step("publint", () => run(bin("publint"), ["--strict"], { cwd: pkgDir }))

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "kura-pack-"))
try {
  const tarball = step("npm pack", () => {
    const out = run("npm", ["pack", "--json", "--pack-destination", scratch], { cwd: pkgDir })
    return path.join(scratch, JSON.parse(out)[0].filename)
  })

  // The "node16" resolution profiles are what Node users get; "bundler" covers tsup/vite users.
  step("are-the-types-wrong", () =>
    run(bin("attw"), [tarball, "--profile", "node16", "--format", "ascii"], { cwd: scratch })
  )

  step("import the packed tarball as ESM and CJS", () => {
    const project = path.join(scratch, "consumer")
    const target = path.join(project, "node_modules", ...pkg.name.split("/"))
    fs.mkdirSync(target, { recursive: true })
    run("tar", ["-xzf", tarball, "-C", target, "--strip-components=1"])
    // Dependencies come from the workspace install: the registry is not needed to prove the
    // package's own entry points, exports map and types resolve.
    // Peer dependencies (effect) are the consumer's own install; linked here the same way.
    for (const dep of Object.keys({ ...pkg.dependencies, ...pkg.peerDependencies })) {
      const link = path.join(project, "node_modules", ...dep.split("/"))
      fs.mkdirSync(path.dirname(link), { recursive: true })
      fs.symlinkSync(path.join(root, "node_modules", ...dep.split("/")), link, "dir")
    }
    fs.writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "consumer", private: true }))
    const name = JSON.stringify(pkg.name)
    // Beyond resolving: code that touches a dependency's default export at run time, which is
    // where ESM/CJS interop breaks (axios-retry's default was the exports object under CJS).
    const smoke = SMOKE[pkg.name] ?? ""
    fs.writeFileSync(
      path.join(project, "esm.mjs"),
      `const m = await import(${name});\nif (Object.keys(m).length < 2) throw new Error("ESM entry exports nothing");\n${smoke}\nconsole.log(Object.keys(m).length);\n`
    )
    fs.writeFileSync(
      path.join(project, "cjs.cjs"),
      `const m = require(${name});\nif (Object.keys(m).length < 2) throw new Error("CJS entry exports nothing");\n${smoke}\nconsole.log(Object.keys(m).length);\n`
    )
    const esm = run(process.execPath, ["esm.mjs"], { cwd: project }).trim()
    const cjs = run(process.execPath, ["cjs.cjs"], { cwd: project }).trim()
    if (esm !== cjs) throw new Error(`ESM exports ${esm} names but CJS exports ${cjs}`)
  })
} finally {
  fs.rmSync(scratch, { recursive: true, force: true })
}
