/**
 * An incremental RFC 4180 CSV parser: quoted fields with commas, doubled quotes and line breaks,
 * CRLF / LF / CR endings, a UTF-8 BOM, and blank lines. Chunks may split anywhere, so archives
 * are read in constant memory. Each row carries the 1-based line it starts on, so decode errors
 * can point at it.
 */

/** One parsed row and the line it starts on. */
export interface CsvRow {
  readonly line: number
  readonly cells: ReadonlyArray<string>
}

/** A malformed CSV construct (an unterminated quote, text after a closing quote). */
export interface CsvSyntaxError {
  readonly line: number
  readonly detail: string
}

/** Incremental parser state; feed chunks with `push`, then call `end`. */
export class CsvParser {
  private cells: Array<string> = []
  private field = ""
  private inQuotes = false
  private afterQuote = false
  private fieldStarted = false
  private line = 1
  private rowLine = 1
  private pendingCR = false
  private first = true
  /** Set when a syntax error was found; parsing stops there. */
  error: CsvSyntaxError | undefined

  /** Parses a chunk and returns the rows it completed. */
  push(chunk: string): Array<CsvRow> {
    const rows: Array<CsvRow> = []
    let s = chunk
    if (this.first && s.length > 0) {
      this.first = false
      if (s.charCodeAt(0) === 0xfeff) s = s.slice(1)
    }
    for (let i = 0; i < s.length && this.error === undefined; i++) {
      const c = s[i] as string
      if (this.pendingCR) {
        this.pendingCR = false
        if (c === "\n") continue
      }
      if (this.inQuotes) {
        if (c === '"') {
          this.inQuotes = false
          this.afterQuote = true
        } else {
          if (c === "\n" || c === "\r") {
            this.line++
            if (c === "\r") {
              if (s[i + 1] === "\n") {
                i++
              } else if (i + 1 === s.length) this.pendingCR = true
              this.field += "\n"
              continue
            }
          }
          this.field += c
        }
        continue
      }
      if (c === '"') {
        if (this.afterQuote) {
          // A doubled quote inside a quoted field.
          this.field += '"'
          this.inQuotes = true
          this.afterQuote = false
        } else if (!this.fieldStarted) {
          this.inQuotes = true
          this.fieldStarted = true
        } else {
          this.field += c
        }
        continue
      }
      if (c === ",") {
        this.endField()
        continue
      }
      if (c === "\n" || c === "\r") {
        if (c === "\r") this.pendingCR = true
        const row = this.endRow()
        if (row) rows.push(row)
        this.line++
        this.rowLine = this.line
        continue
      }
      if (this.afterQuote) {
        this.error = { line: this.line, detail: `unexpected "${c}" after a closing quote` }
        break
      }
      this.field += c
      this.fieldStarted = true
    }
    return rows
  }

  /** Flushes the last row (a file need not end with a newline). */
  end(): Array<CsvRow> {
    if (this.error) return []
    if (this.inQuotes) {
      this.error = { line: this.rowLine, detail: "a quoted field is never closed" }
      return []
    }
    const row = this.endRow()
    return row ? [row] : []
  }

  private endField() {
    this.cells.push(this.field)
    this.field = ""
    this.fieldStarted = false
    this.afterQuote = false
  }

  private endRow(): CsvRow | undefined {
    const blank = this.cells.length === 0 && !this.fieldStarted && this.field === "" && !this.afterQuote
    if (blank) return undefined
    this.endField()
    const row = { line: this.rowLine, cells: this.cells }
    this.cells = []
    return row
  }
}

/** Parses a whole CSV text (tests and small files). */
export const parseCsv = (text: string): { rows: Array<CsvRow>; error: CsvSyntaxError | undefined } => {
  const p = new CsvParser()
  const rows = [...p.push(text), ...p.end()]
  return { rows, error: p.error }
}

/** Renders one CSV row (quotes only when needed), for fixtures and exports. */
export const formatCsvRow = (cells: ReadonlyArray<string>): string =>
  cells.map((c) => (/[",\r\n]/.test(c) || /^\s|\s$/.test(c) ? `"${c.replace(/"/g, '""')}"` : c)).join(",")
