import { assert, describe, it } from "@effect/vitest"
import { Equal, Hash, Option, Schema } from "effect"
import {
  currencyExponent,
  Decimal,
  DecimalFromMinorUnits,
  DecimalFromNumberOrString,
  DecimalFromString,
  formatMoney,
  fromMinorUnits,
  money,
  type RoundingMode,
  sumDecimals,
  sumMoney,
  toMinorUnits
} from "../src/Money.js"

const d = (s: string) => Decimal.unsafeFrom(s)

/** A small deterministic PRNG so property runs are reproducible. */
const prng = (seed: number) => () => {
  seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31
  return seed / 2 ** 31
}

const randomDecimalString = (rand: () => number): { text: string; units: bigint; scale: number } => {
  const scale = Math.floor(rand() * 7)
  const digits = Array.from({ length: 1 + Math.floor(rand() * 20) }, () => Math.floor(rand() * 10)).join("")
  const negative = rand() < 0.3
  const units = BigInt(digits) * (negative ? -1n : 1n)
  const abs = digits.padStart(scale + 1, "0")
  const text = `${negative ? "-" : ""}${scale === 0 ? abs : `${abs.slice(0, abs.length - scale)}.${abs.slice(abs.length - scale)}`}`
  return { text, units, scale }
}

describe("Decimal parsing", () => {
  it("parses API forms exactly", () => {
    assert.strictEqual(d("649.0").toString(), "649.0")
    assert.strictEqual(d("1100.00").toString(), "1100.00")
    assert.isTrue(d("649.0").equals(d("649")))
    assert.strictEqual(d("-1.6667").units, -16667n)
    assert.strictEqual(d(".5").toString(), "0.5")
    assert.strictEqual(d("5.").toString(), "5")
    assert.strictEqual(d("+12").toString(), "12")
    assert.strictEqual(d("1e3").toString(), "1000")
    assert.strictEqual(d("1.25E-2").toString(), "0.0125")
    assert.strictEqual(d("  42.10 ").toString(), "42.10")
    assert.strictEqual(d("000123.4500").toString(), "123.4500")
  })

  it("rejects what is not a plain decimal", () => {
    for (const bad of ["", " ", ".", "abc", "1,000.00", "NaN", "Infinity", "1.2.3", "--1", "1e", "0x10"]) {
      assert.isTrue(Option.isNone(Decimal.parse(bad)), bad)
    }
  })

  it("converts numbers through their shortest round-trip text, never float arithmetic", () => {
    assert.strictEqual(Option.getOrThrow(Decimal.fromNumber(0.1)).toString(), "0.1")
    assert.strictEqual(Option.getOrThrow(Decimal.fromNumber(649)).toString(), "649")
    assert.strictEqual(Option.getOrThrow(Decimal.fromNumber(1e-7)).toString(), "0.0000001")
    assert.strictEqual(Option.getOrThrow(Decimal.fromNumber(1.5e21)).toString(), "1500000000000000000000")
    assert.isTrue(Option.isNone(Decimal.fromNumber(Number.NaN)))
  })

  it("property: string → Decimal → string round-trips for 2000 random values", () => {
    const rand = prng(42)
    for (let i = 0; i < 2000; i++) {
      const { text, units, scale } = randomDecimalString(rand)
      const parsed = d(text)
      assert.strictEqual(
        parsed.toString(),
        text
          .replace(/^-0+(?=\d)/, "-")
          .replace(/^0+(?=\d)/, "")
          .replace(/^-(0(\.0*)?)$/, "$1")
      )
      assert.isTrue(parsed.equals(Decimal.make(units, scale)))
    }
  })
})

describe("Decimal arithmetic", () => {
  it("implements Effect Equal/Hash by value", () => {
    assert.isTrue(Equal.equals(d("649.0"), d("649.00")))
    assert.strictEqual(Hash.hash(d("649.0")), Hash.hash(d("649")))
    assert.isFalse(Equal.equals(d("649.01"), d("649")))
  })

  it("has no float drift", () => {
    assert.isTrue(d("0.1").add(d("0.2")).equals(d("0.3")))
    assert.strictEqual(d("0.1").add(d("0.2")).toString(), "0.3")
    assert.strictEqual(sumDecimals(Array.from({ length: 10 }, () => d("0.1"))).toString(), "1.0")
    assert.strictEqual(d("1100.00").sub(d("649.0")).toString(), "451.00")
  })

  it("property: add/sub/compare agree with bigint arithmetic on a common scale", () => {
    const rand = prng(7)
    for (let i = 0; i < 2000; i++) {
      const a = randomDecimalString(rand)
      const b = randomDecimalString(rand)
      const scale = Math.max(a.scale, b.scale)
      const au = a.units * 10n ** BigInt(scale - a.scale)
      const bu = b.units * 10n ** BigInt(scale - b.scale)
      const x = d(a.text)
      const y = d(b.text)
      assert.isTrue(x.add(y).equals(Decimal.make(au + bu, scale)))
      assert.isTrue(x.sub(y).equals(Decimal.make(au - bu, scale)))
      assert.strictEqual(x.compare(y), au < bu ? -1 : au > bu ? 1 : 0)
      assert.isTrue(x.add(y).sub(y).equals(x))
    }
  })

  it("rounds with explicit modes", () => {
    const table: ReadonlyArray<readonly [string, RoundingMode, string]> = [
      ["2.5", "half-even", "2"],
      ["3.5", "half-even", "4"],
      ["-2.5", "half-even", "-2"],
      ["2.5", "half-up", "3"],
      ["-2.5", "half-up", "-3"],
      ["2.5", "half-down", "2"],
      ["2.51", "half-even", "3"],
      ["2.9", "down", "2"],
      ["-2.9", "down", "-2"],
      ["2.1", "up", "3"],
      ["-2.1", "floor", "-3"],
      ["-2.9", "ceiling", "-2"]
    ]
    for (const [input, mode, expected] of table)
      assert.strictEqual(d(input).round(0, mode).toString(), expected, `${input} ${mode}`)
    assert.strictEqual(d("1.005").round(2, "half-up").toString(), "1.01")
    assert.strictEqual(d("1.005").round(2, "half-even").toString(), "1.00")
    assert.strictEqual(d("1.2").round(3, "half-even").toString(), "1.200")
  })

  it("multiplies by integers and decimal strings with rounding", () => {
    assert.strictEqual(d("19.99").multiply(3n, 2, "half-even").toString(), "59.97")
    // K-Series tax rate multiplier 1.2 on a net line of 1.6667
    assert.strictEqual(d("1.6667").multiply("1.2", 2, "half-up").toString(), "2.00")
    assert.strictEqual(d("10.00").multiply("0.075", 2, "half-even").toString(), "0.75")
    assert.strictEqual(d("0.125").multiply(1, 2, "half-even").toString(), "0.12")
    assert.strictEqual(d("0.125").multiply(1, 2, "half-up").toString(), "0.13")
    assert.strictEqual(d("10").times(d("0.1")).toString(), "1.0")
  })

  it("divides with rounding and refuses zero", () => {
    assert.strictEqual(d("10").divide("3", 2, "half-even").toString(), "3.33")
    assert.strictEqual(d("2.00").divide("1.2", 4, "half-up").toString(), "1.6667")
    assert.strictEqual(d("-1").divide("8", 2, "half-even").toString(), "-0.12")
    assert.strictEqual(d("1").divide("-8", 2, "half-up").toString(), "-0.13")
    assert.throws(() => d("1").divide("0", 2, "half-even"), /division by zero/)
  })
})

describe("Money", () => {
  it("knows currency exponents", () => {
    assert.strictEqual(currencyExponent("JPY"), 0)
    assert.strictEqual(currencyExponent("eur"), 2)
    assert.strictEqual(currencyExponent("USD"), 2)
    assert.strictEqual(currencyExponent("GBP"), 2)
    assert.strictEqual(currencyExponent("KWD"), 3)
    assert.throws(() => currencyExponent("YEN!"), /ISO 4217/)
  })

  it("converts to and from minor units exactly", () => {
    assert.strictEqual(toMinorUnits(d("649.0"), "USD"), 64900n)
    assert.strictEqual(toMinorUnits(d("1100"), "JPY"), 1100n)
    assert.strictEqual(toMinorUnits(d("1100.00"), "JPY"), 1100n)
    assert.strictEqual(toMinorUnits(d("1.234"), "KWD"), 1234n)
    assert.throws(() => toMinorUnits(d("1.005"), "USD"), /rounding/)
    assert.strictEqual(toMinorUnits(d("1.005"), "USD", "half-up"), 101n)
    assert.strictEqual(fromMinorUnits(64900n, "USD").amount.toString(), "649.00")
    assert.strictEqual(fromMinorUnits(1100, "JPY").amount.toString(), "1100")
  })

  it("sums one currency and refuses to mix", () => {
    assert.strictEqual(sumMoney([money("0.1", "EUR"), money(0.2, "EUR")], "EUR").amount.toString(), "0.3")
    assert.throws(() => sumMoney([money("1", "EUR"), money("1", "USD")], "EUR"), /cannot add USD/)
  })

  it("formats plainly and with Intl from exact strings", () => {
    assert.strictEqual(formatMoney(money("649.0", "USD")), "649.00 USD")
    assert.strictEqual(formatMoney(money("1100", "JPY")), "1100 JPY")
    assert.strictEqual(formatMoney(money("1100", "JPY"), "ja-JP"), "￥1,100")
    assert.strictEqual(
      formatMoney(money("12345678901234567.89", "USD"), "en-US"),
      "$12,345,678,901,234,567.89"
    )
  })
})

describe("Decimal schemas", () => {
  it("DecimalFromString decodes and encodes", () => {
    const value = Schema.decodeUnknownSync(DecimalFromString)("649.0")
    assert.strictEqual(value.toString(), "649.0")
    assert.strictEqual(Schema.encodeSync(DecimalFromString)(value), "649.0")
    assert.throws(() => Schema.decodeUnknownSync(DecimalFromString)("1,000"), /decimal string/)
    assert.throws(() => Schema.decodeUnknownSync(DecimalFromString)(649))
  })

  it("DecimalFromNumberOrString accepts both", () => {
    const S = Schema.Struct({ total: DecimalFromNumberOrString, tax: DecimalFromNumberOrString })
    const value = Schema.decodeUnknownSync(S)({ total: 0.1, tax: "0.2" })
    assert.strictEqual(value.total.add(value.tax).toString(), "0.3")
    assert.throws(() => Schema.decodeUnknownSync(S)({ total: "x", tax: 1 }), /total/)
  })

  it("DecimalFromMinorUnits decodes integer cents", () => {
    const cents = DecimalFromMinorUnits(2)
    assert.strictEqual(Schema.decodeUnknownSync(cents)(64900).toString(), "649.00")
    assert.strictEqual(Schema.decodeUnknownSync(cents)("-5").toString(), "-0.05")
    assert.throws(() => Schema.decodeUnknownSync(cents)("1.5"), /minor units/)
  })
})
