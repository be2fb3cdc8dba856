// A child process for FileTokenStore.test.ts: prints "ready", waits for a line on stdin (so that
// racing workers start together), then rotates one refresh token `rounds` times with
// compare-and-set and prints every rotation it won as a JSON line {from, to}.
import { Effect, Redacted } from "effect"
import { makeFileTokenStore } from "../../src/FileTokenStore.js"

const [path, name, roundsText] = process.argv.slice(2)
if (path === undefined || name === undefined || roundsText === undefined)
  throw new Error("usage: path name rounds")
const store = makeFileTokenStore(path, { lockPollMillis: 1 })

const program = Effect.gen(function* () {
  for (let i = 0; i < Number(roundsText); i++) {
    const current = yield* store.get("k")
    if (current._tag === "None" || current.value.refreshToken === null) continue
    const from = Redacted.value(current.value.refreshToken)
    const to = `${name}-${i}`
    const won = yield* store.put(
      "k",
      { ...current.value, accessToken: Redacted.make(`a-${to}`), refreshToken: Redacted.make(to) },
      { expectRefreshToken: from }
    )
    if (won) process.stdout.write(`${JSON.stringify({ from, to })}\n`)
  }
})

process.stdout.write("ready\n")
await new Promise<void>((resolve) => process.stdin.once("data", () => resolve()))
process.stdin.pause()
await Effect.runPromise(program)
