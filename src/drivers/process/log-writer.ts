/**
 * Size-rotated log files written by the shim: `app.log`, then `app.log.1` (newest rotated) up
 * to `app.log.<maxFiles>`. One line per application line: `<ISO time> <stdout|stderr> <text>`.
 * Writes are synchronous so lines from both streams keep their order and nothing is lost
 * when the shim is told to exit.
 */
import {
  closeSync,
  existsSync,
  fstatSync,
  mkdirSync,
  openSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";

export type Stream = "stdout" | "stderr";

/** Longest line kept as one line; longer output is split. */
const MAX_LINE = 64 * 1024;

export class RotatingLog {
  private fd: number;
  private size: number;
  private readonly partial: Record<Stream, string> = { stdout: "", stderr: "" };

  constructor(
    private readonly dir: string,
    private readonly maxSize: number,
    private readonly maxFiles: number,
    private readonly base = "app.log",
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.fd = openSync(this.file(0), "a", 0o600);
    this.size = fstatSync(this.fd).size;
  }

  /** Raw output of a stream: split into lines, a trailing partial line is kept for the next chunk. */
  write(stream: Stream, chunk: string): void {
    const text = this.partial[stream] + chunk;
    const parts = text.split("\n");
    let rest = parts.pop() ?? "";
    while (rest.length > MAX_LINE) {
      parts.push(rest.slice(0, MAX_LINE));
      rest = rest.slice(MAX_LINE);
    }
    this.partial[stream] = rest;
    if (parts.length === 0) return;
    const prefix = `${new Date().toISOString()} ${stream} `;
    // One write per chunk, not per line: a chatty app costs a syscall per 64 KB, not per line.
    let batch = "";
    let batchBytes = 0;
    for (const p of parts) {
      const line = `${prefix}${p.endsWith("\r") ? p.slice(0, -1) : p}\n`;
      const bytes = Buffer.byteLength(line);
      if (this.size + batchBytes > 0 && this.size + batchBytes + bytes > this.maxSize) {
        if (batch) this.writeOut(batch, batchBytes);
        batch = "";
        batchBytes = 0;
        if (this.size > 0) this.rotate();
      }
      batch += line;
      batchBytes += bytes;
    }
    if (batch) this.writeOut(batch, batchBytes);
  }

  /** A whole line (the shim's own notes about exits and restarts). */
  line(stream: Stream, text: string): void {
    this.append(`${new Date().toISOString()} ${stream} ${text}\n`);
  }

  /** Writes any partial lines left over (the stream ended without a newline). */
  flush(): void {
    for (const s of ["stdout", "stderr"] as const) {
      if (this.partial[s]) {
        const p = this.partial[s];
        this.partial[s] = "";
        this.append(`${new Date().toISOString()} ${s} ${p}\n`);
      }
    }
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }

  private file(n: number): string {
    return join(this.dir, n === 0 ? this.base : `${this.base}.${n}`);
  }

  private append(s: string): void {
    const bytes = Buffer.byteLength(s);
    if (this.size > 0 && this.size + bytes > this.maxSize) this.rotate();
    this.writeOut(s, bytes);
  }

  private writeOut(s: string, bytes: number): void {
    writeSync(this.fd, s);
    this.size += bytes;
  }

  private rotate(): void {
    closeSync(this.fd);
    rmSync(this.file(this.maxFiles), { force: true });
    for (let n = this.maxFiles - 1; n >= 0; n--) {
      if (existsSync(this.file(n))) renameSync(this.file(n), this.file(n + 1));
    }
    this.fd = openSync(this.file(0), "a", 0o600);
    this.size = 0;
  }
}
