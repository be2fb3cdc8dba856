/**
 * The text form a DECIMAL(38,9) / NUMERIC column accepts. Arithmetic and comparison use
 * @kura/core's `Decimal`; this only checks that a value fits the column exactly (plain notation,
 * at most 29 integer and 9 fraction digits), so no engine ever rounds or overflows silently.
 */
const PATTERN = /^([+-])?(\d{1,29})(?:\.(\d{1,9}))?$/

/** Whether `value` is plain decimal text that fits DECIMAL(38,9) exactly. */
export const isDecimalText = (value: string): boolean => PATTERN.test(value)
