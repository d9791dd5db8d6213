/**
 * Docker's multiplexed stdout/stderr framing (containers without a TTY): an 8-byte header
 * [stream, 0, 0, 0, size uint32 BE] before each chunk. Incremental, for followed streams too.
 */
export type StreamName = "stdout" | "stderr";

export class Demuxer {
  private buf: Buffer = Buffer.alloc(0);
  private partial: Record<StreamName, string> = { stdout: "", stderr: "" };

  /** Feed bytes; returns the complete lines found so far. */
  push(chunk: Buffer): Array<{ stream: StreamName; line: string }> {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: Array<{ stream: StreamName; line: string }> = [];
    while (this.buf.length >= 8) {
      const size = this.buf.readUInt32BE(4);
      if (this.buf.length < 8 + size) break;
      const stream: StreamName = this.buf[0] === 2 ? "stderr" : "stdout";
      const text = this.partial[stream] + this.buf.subarray(8, 8 + size).toString("utf8");
      this.buf = this.buf.subarray(8 + size);
      const lines = text.split("\n");
      this.partial[stream] = lines.pop() ?? "";
      for (const line of lines) out.push({ stream, line: line.replace(/\r$/, "") });
    }
    return out;
  }

  /** Whatever is left without a trailing newline. */
  flush(): Array<{ stream: StreamName; line: string }> {
    const out: Array<{ stream: StreamName; line: string }> = [];
    for (const stream of ["stdout", "stderr"] as const) {
      if (this.partial[stream]) out.push({ stream, line: this.partial[stream] });
      this.partial[stream] = "";
    }
    return out;
  }
}

/** All output of a finished container, in arrival order. */
export function demuxAll(buf: Buffer): string {
  const d = new Demuxer();
  return [...d.push(buf), ...d.flush()].map((l) => l.line).join("\n");
}
