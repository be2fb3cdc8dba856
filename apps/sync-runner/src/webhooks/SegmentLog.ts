/**
 * The webhook write-ahead log: accepted deliveries are appended to a local NDJSON segment file
 * before Shopify gets its 200 (group commit: every append waiting while a write runs goes out in
 * the next one). How far "written" goes is the `sync` mode:
 *   - `window` (default): the 200 waits for write(2), so the record survives a crash of the process
 *     (SIGKILL, OOM); an `fdatasync` every `syncIntervalMs` and at each rotation bounds what a crash
 *     of the machine itself could lose to that window;
 *   - `ack`: the 200 waits for `fdatasync` too (strict, slower where the disk is busy);
 *   - `none`: no fdatasync at all.
 * A segment is deleted only once its batch has landed in the warehouse, so a crash between the
 * answer and the landing loses nothing: the next start replays the segments it finds.
 */
import {
  closeSync,
  fdatasync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeSync
} from "node:fs"
import { join } from "node:path"

/** One segment file: the records appended to it, in order. */
export interface Segment {
  /** The segment's id (its file name without `.ndjson`), unique and sortable by creation. */
  readonly id: string
  readonly path: string
}

/** A segment found on disk at start, with its complete lines. */
export interface RecoveredSegment extends Segment {
  readonly lines: ReadonlyArray<string>
}

/** Options of the log. */
export interface SegmentLogOptions {
  readonly dir: string
  /** When records are fdatasync'ed (see the module comment). Default `window`. */
  readonly sync?: SyncMode
  /** The `window` mode's fdatasync interval (default 100 ms). */
  readonly syncIntervalMs?: number
  /** Segment ids are `<now>-<seq>`; tests may pin the clock. */
  readonly now?: () => number
  /**
   * Called with the lines of each successful write(2), in order, before their appends resolve
   * (the intake thread tells the landing side which records the current segment holds).
   */
  readonly onWritten?: (lines: ReadonlyArray<string>) => void
}

/** When appended records are forced to disk. */
export type SyncMode = "window" | "ack" | "none"

interface OpenSegment extends Segment {
  /** Written since the last fdatasync. */
  dirty: boolean
  /** The open file, from the first write until the segment is sealed. */
  fd: number | undefined
  /** Settles when every fdatasync started on this segment has finished. */
  inflight: Promise<void>
}

/** fdatasync off the event loop (libuv's thread pool). */
const datasync = (fd: number) =>
  new Promise<void>((resolve, reject) => fdatasync(fd, (e) => (e === null ? resolve() : reject(e))))

interface Waiter {
  readonly resolve: () => void
  readonly reject: (e: unknown) => void
}

const SUFFIX = ".ndjson"

/** The complete lines of a segment's text: only newline-terminated lines were ever acknowledged. */
export const segmentLines = (text: string): Array<string> => {
  const end = text.lastIndexOf("\n")
  return end < 0
    ? []
    : text
        .slice(0, end)
        .split("\n")
        .filter((l) => l !== "")
}

/** The write-ahead log of one process. Not safe for two processes on one directory. */
export class SegmentLog {
  readonly dir: string
  private readonly sync: SyncMode
  private readonly timer: ReturnType<typeof setInterval> | undefined
  private readonly now: () => number
  private readonly onWritten: ((lines: ReadonlyArray<string>) => void) | undefined
  private seq = 0
  private current: OpenSegment
  private pending: Array<string> = []
  private waiters: Array<Waiter> = []
  private scheduled = false

  private constructor(options: SegmentLogOptions) {
    this.dir = options.dir
    this.sync = options.sync ?? "window"
    this.now = options.now ?? Date.now
    this.onWritten = options.onWritten
    mkdirSync(this.dir, { recursive: true })
    this.current = this.newSegment()
    this.timer =
      this.sync === "window"
        ? setInterval(() => this.syncCurrent(), options.syncIntervalMs ?? 100)
        : undefined
    this.timer?.unref()
  }

  /**
   * Opens the log in `dir`, returning the segments a previous process left behind (oldest first;
   * a torn last line, never acknowledged, is dropped). They stay on disk until `remove`d.
   */
  static open(options: SegmentLogOptions): {
    readonly log: SegmentLog
    readonly recovered: Array<RecoveredSegment>
  } {
    const recovered = SegmentLog.recover(options.dir)
    return { log: SegmentLog.create({ ...options, after: recovered.at(-1)?.id }), recovered }
  }

  /** Reads the segments found in `dir` (oldest first), without opening a log there. */
  static recover(dir: string): Array<RecoveredSegment> {
    mkdirSync(dir, { recursive: true })
    return readdirSync(dir)
      .filter((f) => f.endsWith(SUFFIX))
      .sort()
      .map((f): RecoveredSegment => {
        const path = join(dir, f)
        return { id: f.slice(0, -SUFFIX.length), path, lines: segmentLines(readFileSync(path, "utf8")) }
      })
  }

  /**
   * Opens a log in `dir` whose segment ids sort after `after` (the last recovered segment, which
   * another owner replays), without reading what is there.
   */
  static create(options: SegmentLogOptions & { readonly after?: string | undefined }): SegmentLog {
    const log = new SegmentLog(options)
    // New ids must sort after every recovered one, even if the clock went backwards.
    const last = options.after
    if (last !== undefined && last >= log.current.id) {
      log.seq = Number(last.split("-")[1] ?? "0") + 1
      log.current = log.newSegment(Number(last.split("-")[0]))
    }
    return log
  }

  private newSegment(at = this.now()): OpenSegment {
    const id = `${String(at).padStart(14, "0")}-${String(this.seq++).padStart(8, "0")}`
    return {
      id,
      path: join(this.dir, `${id}${SUFFIX}`),
      fd: undefined,
      inflight: Promise.resolve(),
      dirty: false
    }
  }

  /** The segment new appends go to. */
  get currentSegment(): Segment {
    return { id: this.current.id, path: this.current.path }
  }

  /**
   * Appends one line (no newline inside) to the current segment; resolves once it is on disk.
   * Group commit: every append of one event-loop turn goes out in one write(2), made at the end of
   * the turn. The write is synchronous: a page-cache append of a few dozen KB takes microseconds,
   * less than handing it to the thread pool and back (which cost ~2× the CPU per delivery under
   * load); only fdatasync, which waits for the disk, runs off the event loop.
   */
  append(line: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push(line)
      this.waiters.push({ resolve, reject })
      if (!this.scheduled) {
        this.scheduled = true
        setImmediate(() => this.flush())
      }
    })
  }

  /** Writes the queued appends to the current segment and settles their promises. */
  private flush(): void {
    this.scheduled = false
    if (this.pending.length === 0) return
    const segment = this.current
    const lines = this.pending
    const waiters = this.waiters
    this.pending = []
    this.waiters = []
    let written: Promise<void>
    try {
      written = this.writeTo(segment, lines)
    } catch (e) {
      written = Promise.reject(e)
    }
    written.then(
      () => {
        for (const w of waiters) w.resolve()
      },
      (e: unknown) => {
        for (const w of waiters) w.reject(e)
      }
    )
  }

  /**
   * Appends `lines` to `segment` (opening its file once); in `ack` mode the promise waits for
   * fdatasync too. Throws when the write itself fails.
   */
  private writeTo(segment: OpenSegment, lines: ReadonlyArray<string>): Promise<void> {
    segment.fd ??= openSync(segment.path, "a")
    const data = Buffer.from(`${lines.join("\n")}\n`, "utf8")
    let offset = 0
    while (offset < data.length) offset += writeSync(segment.fd, data, offset)
    this.onWritten?.(lines)
    if (this.sync !== "ack") {
      segment.dirty = true
      return Promise.resolve()
    }
    const synced = segment.inflight.then(() => datasync(segment.fd ?? -1))
    segment.inflight = synced.catch(() => undefined)
    return synced
  }

  /** The `window` mode's periodic fdatasync of the current segment. */
  private syncCurrent(): void {
    const segment = this.current
    const fd = segment.fd
    if (!segment.dirty || fd === undefined) return
    segment.dirty = false
    segment.inflight = segment.inflight.then(() =>
      datasync(fd).catch(() => {
        segment.dirty = true
      })
    )
  }

  /** Stops the periodic sync (the segments stay on disk). */
  close(): void {
    if (this.timer !== undefined) clearInterval(this.timer)
  }

  /**
   * Closes the current segment for new appends (they go to a fresh one from now on) and resolves
   * with it once it is on disk.
   */
  async rotate(): Promise<Segment> {
    // Appends queued but not yet written belong to the old segment.
    const old = this.current
    this.flush()
    this.current = this.newSegment()
    // A sealed segment is on disk before its batch lands (its records may already be answered).
    while (true) {
      const before = old.inflight
      await before
      if (old.inflight === before) break
    }
    const fd = old.fd
    if (fd !== undefined) {
      if (old.dirty && this.sync !== "none") await datasync(fd).catch(() => undefined)
      old.fd = undefined
      closeSync(fd)
    }
    return { id: old.id, path: old.path }
  }

  /** Deletes a segment whose records have landed. */
  remove(segment: Segment): void {
    rmSync(segment.path, { force: true })
  }
}
