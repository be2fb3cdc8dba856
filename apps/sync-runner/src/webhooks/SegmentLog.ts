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
import { mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { type FileHandle, open } from "node:fs/promises"
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
}

/** When appended records are forced to disk. */
export type SyncMode = "window" | "ack" | "none"

interface OpenSegment extends Segment {
  /** Written since the last fdatasync. */
  dirty: boolean
  handle: FileHandle | undefined
  opening: Promise<FileHandle> | undefined
  /** Settles when every write started on this segment has finished. */
  inflight: Promise<void>
}

interface Waiter {
  readonly resolve: () => void
  readonly reject: (e: unknown) => void
}

const SUFFIX = ".ndjson"

/** The write-ahead log of one process. Not safe for two processes on one directory. */
export class SegmentLog {
  readonly dir: string
  private readonly sync: SyncMode
  private readonly timer: ReturnType<typeof setInterval> | undefined
  private readonly now: () => number
  private seq = 0
  private current: OpenSegment
  private pending: Array<string> = []
  private waiters: Array<Waiter> = []
  private writing = false

  private constructor(options: SegmentLogOptions) {
    this.dir = options.dir
    this.sync = options.sync ?? "window"
    this.now = options.now ?? Date.now
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
    mkdirSync(options.dir, { recursive: true })
    const recovered = readdirSync(options.dir)
      .filter((f) => f.endsWith(SUFFIX))
      .sort()
      .map((f): RecoveredSegment => {
        const path = join(options.dir, f)
        const text = readFileSync(path, "utf8")
        // Only newline-terminated lines were ever synced (and so acknowledged).
        const end = text.lastIndexOf("\n")
        const lines =
          end < 0
            ? []
            : text
                .slice(0, end)
                .split("\n")
                .filter((l) => l !== "")
        return { id: f.slice(0, -SUFFIX.length), path, lines }
      })
    const log = new SegmentLog(options)
    // New ids must sort after every recovered one, even if the clock went backwards.
    const last = recovered.at(-1)
    if (last !== undefined && last.id >= log.current.id) {
      log.seq = Number(last.id.split("-")[1] ?? "0") + 1
      log.current = log.newSegment(Number(last.id.split("-")[0]))
    }
    return { log, recovered }
  }

  private newSegment(at = this.now()): OpenSegment {
    const id = `${String(at).padStart(14, "0")}-${String(this.seq++).padStart(8, "0")}`
    return {
      id,
      path: join(this.dir, `${id}${SUFFIX}`),
      handle: undefined,
      opening: undefined,
      inflight: Promise.resolve(),
      dirty: false
    }
  }

  /** The segment new appends go to. */
  get currentSegment(): Segment {
    return { id: this.current.id, path: this.current.path }
  }

  /** Appends one line (no newline inside) to the current segment; resolves once it is on disk. */
  append(line: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push(line)
      this.waiters.push({ resolve, reject })
      this.kick()
    })
  }

  private kick(): void {
    if (this.writing || this.pending.length === 0) return
    this.writing = true
    const segment = this.current
    const lines = this.pending
    const waiters = this.waiters
    this.pending = []
    this.waiters = []
    const write = this.writeTo(segment, lines)
    segment.inflight = segment.inflight.then(() =>
      write.then(
        () => undefined,
        () => undefined
      )
    )
    write
      .then(
        () => {
          for (const w of waiters) w.resolve()
        },
        (e: unknown) => {
          for (const w of waiters) w.reject(e)
        }
      )
      .finally(() => {
        this.writing = false
        this.kick()
      })
  }

  /** Appends `lines` to `segment` (opening its file once), syncing them in `ack` mode. */
  private async writeTo(segment: OpenSegment, lines: ReadonlyArray<string>): Promise<void> {
    segment.opening ??= open(segment.path, "a")
    if (segment.handle === undefined) segment.handle = await segment.opening
    await segment.handle.write(`${lines.join("\n")}\n`)
    if (this.sync === "ack") await segment.handle.datasync()
    else segment.dirty = true
  }

  /** The `window` mode's periodic fdatasync of the current segment (after the writes queued on it). */
  private syncCurrent(): void {
    const segment = this.current
    if (!segment.dirty || segment.handle === undefined) return
    const handle = segment.handle
    segment.dirty = false
    segment.inflight = segment.inflight.then(() =>
      handle.datasync().then(
        () => undefined,
        () => {
          segment.dirty = true
        }
      )
    )
  }

  /** Stops the periodic sync (the segments stay on disk). */
  close(): void {
    if (this.timer !== undefined) clearInterval(this.timer)
  }

  /**
   * Closes the current segment for new appends (they go to a fresh one from now on) and resolves
   * with it once every write to it has finished.
   */
  async rotate(): Promise<Segment> {
    // Appends queued but not yet written belong to the old segment.
    const old = this.current
    const queued = this.pending.length > 0
    this.current = this.newSegment()
    if (queued) {
      // Write them to the old segment before anything goes to the new one.
      const lines = this.pending
      const waiters = this.waiters
      this.pending = []
      this.waiters = []
      await old.inflight
      try {
        await this.writeTo(old, lines)
        for (const w of waiters) w.resolve()
      } catch (e) {
        for (const w of waiters) w.reject(e)
      }
    }
    while (true) {
      const before = old.inflight
      await before
      if (old.inflight === before) break
    }
    const handle = old.opening === undefined ? undefined : await old.opening.catch(() => undefined)
    // A sealed segment is on disk before its batch lands (its records may already be answered).
    if (handle !== undefined && old.dirty && this.sync !== "none")
      await handle.datasync().catch(() => undefined)
    await handle?.close()
    return { id: old.id, path: old.path }
  }

  /** Deletes a segment whose records have landed. */
  remove(segment: Segment): void {
    rmSync(segment.path, { force: true })
  }
}
