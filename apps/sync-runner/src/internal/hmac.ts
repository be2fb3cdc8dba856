import { createHmac, timingSafeEqual } from "node:crypto"

/** True when `signature` (base64) is HMAC-SHA256(secret, body) for any of `secrets` (rotation). */
export const verifyShopifyHmac = (
  body: Uint8Array,
  signature: string,
  secrets: ReadonlyArray<string>
): boolean => {
  const given = Buffer.from(signature, "base64")
  if (given.length !== 32) return false
  let ok = false
  for (const secret of secrets) {
    const expected = createHmac("sha256", secret).update(body).digest()
    // Compare against every secret so timing does not reveal which one matched.
    if (timingSafeEqual(expected, given)) ok = true
  }
  return ok
}

/** Constant-time string equality. */
export const safeEqual = (a: string, b: string): boolean => {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}
