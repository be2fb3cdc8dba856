/**
 * JSON parsing that keeps int64 ids exact: integer literals of 16 or more digits outside strings
 * are quoted before `JSON.parse`, so 45454565682155123 stays "45454565682155123" instead of being
 * rounded to the nearest double. Amounts are strings in K-Series and are unaffected.
 */

const isDigit = (c: number) => c >= 48 && c <= 57

/** Quotes long integer literals (outside strings) so they survive `JSON.parse`. */
export const quoteLongIntegers = (text: string, minDigits = 16): string => {
  // Most pages have no long digit run at all: skip the scan (it is ~4× slower than JSON.parse).
  if (!new RegExp(`\\d{${minDigits}}`).test(text)) return text
  let out = ""
  let last = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 92)
        i++ // backslash: skip the escaped character
      else if (c === 34) inString = false
      continue
    }
    if (c === 34) {
      inString = true
      continue
    }
    if (c === 45 || isDigit(c)) {
      let j = i + (c === 45 ? 1 : 0)
      const digitsStart = j
      while (j < text.length && isDigit(text.charCodeAt(j))) j++
      const next = text.charCodeAt(j)
      const isInteger = next !== 46 && next !== 101 && next !== 69 // not . e E
      if (isInteger && j - digitsStart >= minDigits) {
        out += `${text.slice(last, i)}"${text.slice(i, j)}"`
        last = j
      }
      if (!isInteger) {
        // Skip the fraction and exponent so their digits are not read as another number.
        while (j < text.length && /[0-9.eE+-]/.test(text.charAt(j))) j++
      }
      i = j - 1
    }
  }
  return last === 0 ? text : out + text.slice(last)
}

/** Parses JSON keeping long integers exact (see `quoteLongIntegers`). */
export const parseJsonLossless = (text: string): unknown => JSON.parse(quoteLongIntegers(text))
