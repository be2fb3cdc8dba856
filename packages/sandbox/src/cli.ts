#!/usr/bin/env node
/**
 * `kura-sandbox`: starts the three emulators and prints exactly one JSON line on stdout with each
 * API's base URL and credentials, then serves until SIGTERM/SIGINT. Diagnostics go to stderr.
 */
import type { FaultProfile } from "./internal/contracts.js"
import { startSandbox } from "./startSandbox.js"

const USAGE = `Usage: kura-sandbox [--port N] [--seed S] [--orders N] [--faults none|flaky|chaos] [--time-scale X]
                    [--history-days D] [--tax jp|eu] [--malformed N] [--plan standard|advanced|plus|enterprise]
Ports: Shopify N, Lightspeed N+1, Stocky N+2 (N = 0 picks free ports).`

const parse = (argv: ReadonlyArray<string>): Record<string, string> => {
  const out: Record<string, string> = {}
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? ""
    if (arg === "--help" || arg === "-h") {
      process.stdout.write(`${USAGE}\n`)
      process.exit(0)
    }
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(arg)
    if (m === null) throw new Error(`unexpected argument ${arg}`)
    const value = m[2] ?? argv[++i]
    if (value === undefined) throw new Error(`--${m[1]} needs a value`)
    out[m[1] ?? ""] = value
  }
  return out
}

const num = (args: Record<string, string>, name: string): number | undefined => {
  const raw = args[name]
  if (raw === undefined) return undefined
  const n = Number(raw)
  if (!Number.isFinite(n)) throw new Error(`--${name} must be a number; got ${raw}`)
  return n
}

const main = async (): Promise<void> => {
  const args = parse(process.argv.slice(2))
  const known = new Set([
    "port",
    "seed",
    "orders",
    "faults",
    "time-scale",
    "history-days",
    "tax",
    "malformed",
    "plan"
  ])
  for (const k of Object.keys(args)) if (!known.has(k)) throw new Error(`unknown option --${k}\n${USAGE}`)
  const faults = args.faults ?? "none"
  if (faults !== "none" && faults !== "flaky" && faults !== "chaos")
    throw new Error(`--faults must be none, flaky or chaos; got ${faults}`)
  const tax = args.tax ?? "jp"
  if (tax !== "jp" && tax !== "eu") throw new Error(`--tax must be jp or eu; got ${tax}`)
  const plan = args.plan ?? "standard"
  if (!["standard", "advanced", "plus", "enterprise"].includes(plan))
    throw new Error(`--plan must be standard, advanced, plus or enterprise; got ${plan}`)
  const opt = <K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } =>
    value === undefined ? {} : ({ [key]: value } as { [P in K]?: V })
  const sandbox = await startSandbox({
    ...opt("port", num(args, "port")),
    ...opt("seed", num(args, "seed")),
    ...opt("scale", num(args, "orders")),
    ...opt("timeScale", num(args, "time-scale")),
    ...opt("historyDays", num(args, "history-days")),
    ...opt("malformedPerSource", num(args, "malformed")),
    faults: faults as FaultProfile,
    tax,
    plan: plan as "standard"
  })
  const line = {
    shopify: { baseUrl: sandbox.shopify.baseUrl, ...sandbox.shopify.credentials },
    lightspeed: { baseUrl: sandbox.lightspeed.baseUrl, ...sandbox.lightspeed.credentials },
    stocky: {
      baseUrl: sandbox.stocky.baseUrl,
      ...sandbox.stocky.credentials,
      webhookSecret: sandbox.shopify.credentials.webhookSecret
    }
  }
  process.stdout.write(`${JSON.stringify(line)}\n`)
  let closing = false
  const stop = (signal: string) => {
    if (closing) return
    closing = true
    process.stderr.write(`kura-sandbox: ${signal}, shutting down\n`)
    sandbox.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`kura-sandbox: error while closing: ${String(error)}\n`)
        process.exit(1)
      }
    )
  }
  process.on("SIGTERM", () => stop("SIGTERM"))
  process.on("SIGINT", () => stop("SIGINT"))
}

main().catch((error: unknown) => {
  process.stderr.write(`kura-sandbox: ${error instanceof Error ? error.message : String(error)}\n`)
  process.exit(2)
})
