import { Redacted } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { clearRegisteredSecrets, maskValues, REDACTED, redact, registerSecret } from "../src/Redaction.js"

afterEach(() => clearRegisteredSecrets())

describe("registered secrets", () => {
  it("masks a secret that contains another registered secret whole, whatever the registration order", () => {
    // A trigger secret and a webhook key that extends it: masking the shorter first used to leave
    // "-batched-0123456789" of the longer one in the log line.
    registerSecret("hmac-key-0123")
    registerSecret(Redacted.make("hmac-key-0123-batched-0123456789"))
    expect(redact("boom: hmac-key-0123-batched-0123456789 and hmac-key-0123")).toBe(
      `boom: ${REDACTED} and ${REDACTED}`
    )
  })

  it("forgets secrets when cleared, and ignores values too short to mask safely", () => {
    registerSecret("abc", "s3cr3t-value")
    expect(redact("abc s3cr3t-value")).toBe(`abc ${REDACTED}`)
    clearRegisteredSecrets()
    expect(redact("abc s3cr3t-value")).toBe("abc s3cr3t-value")
  })
})

describe("maskValues", () => {
  it("masks the longest value first and skips empty ones", () => {
    expect(maskValues("key=abcd-1234-extra; other=abcd", ["", "abcd", "abcd-1234-extra"])).toBe(
      `key=${REDACTED}; other=${REDACTED}`
    )
  })
})
