/**
 * Reading the shim's rotated log files: the last lines (newest file first, read backwards in
 * chunks so a 10 MB file is not read whole for 100 lines) and following appended lines across
 * rotations (the open descriptor keeps the renamed file; a new inode at the path is the next one).
 */
import { closeSync, existsSync, fstatSync, openSync, readSync, statSync } from "node:fs";
import { join } from "node:path";
import { StringDecoder } from "node:string_decoder";
import type { LogLine } from "../driver.js";

export interface ParsedLine {
  time: string;
  stream: "stdout" | "stderr";
  line: string;
}

export function parseLine(raw: string): ParsedLine {
  const a = raw.indexOf(" ");
  const b = a < 0 ? -1 : raw.indexOf(" ", a + 1);
  const stream = a < 0 ? "" : raw.slice(a + 1, b < 0 ? undefined : b);
  if (a > 0 && (stream === "stdout" || stream === "stderr"))
    return { time: raw.slice(0, a), stream, line: b < 0 ? "" : raw.slice(b + 1) };
  return { time: "", stream: "stdout", line: raw };
}

/** Log files of one instance, newest first: app.log, app.log.1, app.log.2 … */
export function logFilesNewestFirst(dir: string, base: string): string[] {
  const out: string[] = [];
  if (existsSync(join(dir, base))) out.push(join(dir, base));
  for (let n = 1; existsSync(join(dir, `${base}.${n}`)); n++) out.push(join(dir, `${base}.${n}`));
  return out;
}

/** Lines of a file from the end backwards, up to byte offset `end`. */
export function* linesBackward(path: string, end?: number): Generator<string> {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return;
  }
  try {
    let pos = end ?? fstatSync(fd).size;
    let carry: Buffer = Buffer.alloc(0);
    let first = true;
    while (pos > 0) {
      const len = Math.min(64 * 1024, pos);
      pos -= len;
      const buf = Buffer.alloc(len);
      readSync(fd, buf, 0, len, pos);
      let data: Buffer = Buffer.concat([buf, carry]);
      if (first) {
        first = false;
        if (data.length > 0 && data[data.length - 1] === 0x0a) data = data.subarray(0, data.length - 1);
      }
      for (let i = data.lastIndexOf(0x0a); i >= 0; i = data.lastIndexOf(0x0a)) {
        yield data.subarray(i + 1).toString("utf8");
        data = data.subarray(0, i);
      }
      carry = data;
    }
    if (!first && carry.length > 0) yield carry.toString("utf8");
  } finally {
    closeSync(fd);
  }
}

/**
 * The last `tail` lines (all when undefined) no older than `since` (ISO time), oldest first.
 * `currentEnd` bounds the read of the current file (the offset a follower continues from).
 */
export function tailLines(
  files: string[],
  opts: { tail?: number; since?: string; currentEnd?: number },
): ParsedLine[] {
  const out: ParsedLine[] = [];
  const max = opts.tail ?? Infinity;
  if (max <= 0) return out;
  outer: for (let f = 0; f < files.length; f++) {
    for (const raw of linesBackward(files[f], f === 0 ? opts.currentEnd : undefined)) {
      const p = parseLine(raw);
      if (opts.since && p.time && p.time < opts.since) break outer;
      out.push(p);
      if (out.length >= max) break outer;
    }
  }
  return out.reverse();
}

/** Follows one log file across rotations, from a byte offset. */
export class Follower {
  private fd: number | undefined;
  private ino = 0;
  private offset = 0;
  private pending = "";
  private decoder = new StringDecoder("utf8");
  /** Size of the file when following began: the tail is read up to here, the follow goes on from here. */
  readonly startOffset: number;

  constructor(private readonly path: string) {
    this.open();
    this.offset = this.fd === undefined ? 0 : fstatSync(this.fd).size;
    this.startOffset = this.offset;
  }

  /** Complete lines appended since the last call. */
  poll(): ParsedLine[] {
    if (this.fd === undefined) {
      this.open();
      this.offset = 0;
      if (this.fd === undefined) return [];
    }
    const lines = this.drain();
    let st: { ino: number } | undefined;
    try {
      st = statSync(this.path);
    } catch {
      st = undefined;
    }
    if (st && st.ino !== this.ino) {
      // Rotated: the old file is complete. Files rotated after it (several rotations between two
      // polls) come next, whole, oldest first; then the new current file from its start.
      const oldIno = this.ino;
      this.close();
      for (const f of this.rotatedAfter(oldIno)) {
        this.reset();
        this.openPath(f);
        lines.push(...this.drain());
        this.close();
      }
      this.reset();
      this.open();
      lines.push(...this.drain());
    }
    return lines;
  }

  /** Rotated files newer than the one with inode `ino`, oldest first. */
  private rotatedAfter(ino: number): string[] {
    const rotated: { path: string; ino: number }[] = [];
    for (let n = 1; ; n++) {
      const path = `${this.path}.${n}`;
      try {
        rotated.push({ path, ino: statSync(path).ino });
      } catch {
        break;
      }
    }
    const at = rotated.findIndex((r) => r.ino === ino);
    // Not found: it was deleted, so every rotated file left is newer.
    return rotated
      .slice(0, at < 0 ? rotated.length : at)
      .reverse()
      .map((r) => r.path);
  }

  private reset(): void {
    this.offset = 0;
    this.pending = "";
    this.decoder = new StringDecoder("utf8");
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private open(): void {
    this.openPath(this.path);
  }

  private openPath(path: string): void {
    try {
      this.fd = openSync(path, "r");
      this.ino = fstatSync(this.fd).ino;
    } catch {
      this.fd = undefined;
    }
  }

  private drain(): ParsedLine[] {
    if (this.fd === undefined) return [];
    const size = fstatSync(this.fd).size;
    if (size < this.offset) this.offset = 0;
    const out: ParsedLine[] = [];
    while (this.offset < size) {
      const len = Math.min(256 * 1024, size - this.offset);
      const buf = Buffer.alloc(len);
      const n = readSync(this.fd, buf, 0, len, this.offset);
      if (n <= 0) break;
      this.offset += n;
      const text = this.pending + this.decoder.write(buf.subarray(0, n));
      const parts = text.split("\n");
      this.pending = parts.pop() ?? "";
      for (const p of parts) out.push(parseLine(p));
    }
    return out;
  }
}

export function toLogLine(instance: string, p: ParsedLine): LogLine {
  return { instance, stream: p.stream, ...(p.time ? { time: p.time } : {}), line: p.line };
}
