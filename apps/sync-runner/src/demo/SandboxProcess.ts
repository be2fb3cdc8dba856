/**
 * The demo's sandbox in a child process. In one process the sandbox's generated merchant, its
 * GraphQL execution and response building shared one V8 heap (and one garbage collector) with the
 * sync, and the peak was the sum of both at their worst; apart, each heap stays small and the
 * sync's heap can be capped. Only plain JSON crosses the IPC channel: endpoints and credentials at
 * start, then `mutate` and the reduced ground truth (`DemoTruth`) on request.
 */
import { type ChildProcess, fork } from "node:child_process"
import { type SandboxOptions, startSandbox } from "@kura/sandbox"
import {
  type DemoSandbox,
  type DemoTruth,
  demoTruthOf,
  inProcessDemoSandbox,
  SANDBOX_CHILD_FLAG
} from "./DemoSandbox.js"

/** JSON-safe sandbox options for the child. */
export type SandboxProcessOptions = Pick<
  SandboxOptions,
  "seed" | "scale" | "historyDays" | "timeScale" | "anchor"
> & { readonly faults?: "none" | "flaky" | "chaos" }

/** How to start the child. */
export interface SandboxProcessSpawn {
  /** A script that calls `serveSandboxChild()` when given `SANDBOX_CHILD_FLAG` (the built demo.js). */
  readonly script: string
  /** Node flags of the child (e.g. `--max-old-space-size=256`). */
  readonly execArgv?: ReadonlyArray<string>
}

type Request =
  | { readonly id: number; readonly op: "start"; readonly options: SandboxProcessOptions }
  | { readonly id: number; readonly op: "mutate"; readonly fraction: number }
  | { readonly id: number; readonly op: "truth" }
  | { readonly id: number; readonly op: "close" }

type Reply =
  | { readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly id: number; readonly ok: false; readonly error: string }

type Ready = Omit<DemoSandbox, "mutate" | "truth" | "close">

/** Starts the sandbox in a child process and returns the demo's view of it. */
export const startSandboxProcess = async (
  spawn: SandboxProcessSpawn,
  options: SandboxProcessOptions
): Promise<DemoSandbox> => {
  const child: ChildProcess = fork(spawn.script, [SANDBOX_CHILD_FLAG], {
    execArgv: [...(spawn.execArgv ?? [])],
    stdio: ["ignore", "inherit", "inherit", "ipc"]
  })
  let next = 0
  let exited: string | undefined
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
  const failAll = (why: string) => {
    exited = why
    for (const p of pending.values()) p.reject(new Error(why))
    pending.clear()
  }
  child.on("message", (message: Reply) => {
    const p = pending.get(message.id)
    if (p === undefined) return
    pending.delete(message.id)
    if (message.ok) p.resolve(message.value)
    else p.reject(new Error(`sandbox process: ${message.error}`))
  })
  child.on("exit", (code, signal) => failAll(`the sandbox process exited (${signal ?? `code ${code}`})`))
  child.on("error", (e) => failAll(`the sandbox process failed: ${e.message}`))
  const call = (request: Record<string, unknown> & { readonly op: Request["op"] }) =>
    new Promise<unknown>((resolve, reject) => {
      if (exited !== undefined) return reject(new Error(exited))
      const id = next++
      pending.set(id, { resolve, reject })
      child.send({ ...request, id })
    })
  try {
    // The reply is this module's own `Ready` built by the child below.
    const ready = (await call({ op: "start", options })) as Ready
    return {
      ...ready,
      ...(child.pid === undefined ? {} : { pid: child.pid }),
      mutate: async (fraction) => {
        await call({ op: "mutate", fraction })
      },
      truth: async () => (await call({ op: "truth" })) as DemoTruth,
      close: async () => {
        if (exited !== undefined) return
        const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()))
        await call({ op: "close" }).catch(() => undefined)
        await gone
      }
    }
  } catch (e) {
    child.kill("SIGKILL")
    throw e
  }
}

/** The child's side: serves requests until `close`, or exits when the parent goes away. */
export const serveSandboxChild = (): void => {
  const send = process.send?.bind(process)
  if (send === undefined) throw new Error(`${SANDBOX_CHILD_FLAG} needs an IPC channel (start it with fork)`)
  let sandbox: DemoSandbox | undefined
  let truthOf: (() => DemoTruth) | undefined
  // An orphaned sandbox would hold its ports forever.
  process.on("disconnect", () => process.exit(0))
  process.on("message", (request: Request) => {
    const reply = (r: Reply) => send(r)
    const run = async (): Promise<unknown> => {
      switch (request.op) {
        case "start": {
          const s = await startSandbox({ ...request.options })
          sandbox = inProcessDemoSandbox(s, true)
          truthOf = () => demoTruthOf(s)
          const { mutate: _m, truth: _t, close: _c, ...ready } = sandbox
          return ready
        }
        case "mutate":
          await sandbox?.mutate(request.fraction)
          return null
        case "truth":
          if (truthOf === undefined) throw new Error("the sandbox is not started")
          return truthOf()
        case "close":
          await sandbox?.close()
          sandbox = undefined
          return null
      }
    }
    run().then(
      (value) => {
        reply({ id: request.id, ok: true, value })
        if (request.op === "close") process.disconnect()
      },
      (e: unknown) => reply({ id: request.id, ok: false, error: e instanceof Error ? e.message : String(e) })
    )
  })
}
