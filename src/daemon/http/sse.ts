// Server-sent events (text/event-stream) over one HTTP/1.1 response: framing, heartbeats, flow
// control, and the encoding of job output as events whose ids are exact byte offsets.
import type { ServerResponse } from "node:http";

export interface StreamTiming {
  /** a comment line is sent this often, so idle streams (and the proxies on their way) stay up */
  heartbeatMs: number;
  /** a client that takes nothing for this long while we wait to write is cut off */
  stallMs: number;
}

export interface SseEvent {
  event?: string;
  id?: number;
  /** must not contain CR (the event-stream format reads CR as a line end); LF splits data lines */
  data: string;
}

/** One event in the wire format: `event:`, `id:`, one `data:` line per line of `data`, a blank line. */
export function frame(e: SseEvent): string {
  let out = e.event ? `event: ${e.event}\n` : "";
  if (e.id !== undefined) out += `id: ${e.id}\n`;
  for (const line of e.data.split("\n")) out += `data: ${line}\n`;
  return `${out}\n`;
}

/** An open event stream: write() frames, drained() waits for a slow client, end() finishes. */
export class EventStream {
  private heartbeat: ReturnType<typeof setInterval>;
  private isClosed = false;
  private readonly closeWaiters = new Set<() => void>();

  constructor(
    private readonly res: ServerResponse,
    private readonly timing: StreamTiming,
  ) {
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      "x-content-type-options": "nosniff",
      "x-accel-buffering": "no", // proxies: do not buffer the stream
    });
    res.on("close", () => this.closed());
    this.heartbeat = setInterval(() => {
      // a client that is behind gets no heartbeat: it has data waiting, and the stall timer decides
      if (!res.writableNeedDrain) this.write(": heartbeat\n\n");
    }, timing.heartbeatMs);
  }

  /** True once the client went away or the stream ended. */
  get done(): boolean {
    return this.isClosed;
  }

  /** Bytes written but not yet taken by the client. */
  get backlog(): number {
    return this.res.writableLength;
  }

  /** Writes raw event-stream text; false when the client is behind (wait with drained()). */
  write(text: string): boolean {
    if (this.isClosed) return false;
    return this.res.write(text);
  }

  send(e: SseEvent): boolean {
    return this.write(frame(e));
  }

  /** Resolves true once the client took what was written, false if it left or stalled (then it is cut off). */
  drained(): Promise<boolean> {
    if (this.isClosed) return Promise.resolve(false);
    if (!this.res.writableNeedDrain) return Promise.resolve(true);
    return new Promise((resolve) => {
      const finish = (ok: boolean) => {
        clearTimeout(timer);
        this.res.off("drain", onDrain);
        this.closeWaiters.delete(onClose);
        resolve(ok);
      };
      const onDrain = () => finish(true);
      const onClose = () => finish(false);
      const timer = setTimeout(() => {
        finish(false);
        this.abort();
      }, this.timing.stallMs);
      this.res.once("drain", onDrain);
      this.closeWaiters.add(onClose);
    });
  }

  /** Resolves when the client goes away (or the stream ends). */
  closedPromise(): Promise<void> {
    if (this.isClosed) return Promise.resolve();
    return new Promise((resolve) => this.closeWaiters.add(resolve));
  }

  /** Finishes the response normally. */
  end(): void {
    if (this.isClosed) return;
    this.res.end();
    this.closed();
  }

  /** Drops the connection (a client too slow to keep up, or shutdown after the grace period). */
  abort(): void {
    this.res.destroy();
    this.closed();
  }

  private closed(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    clearInterval(this.heartbeat);
    for (const wake of this.closeWaiters) wake();
    this.closeWaiters.clear();
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Bytes at the end of `b` that begin a UTF-8 character not complete yet (0-3). */
function incompleteTail(b: Uint8Array): number {
  for (let i = b.length - 1; i >= Math.max(0, b.length - 4); i--) {
    const byte = b[i]!;
    if ((byte & 0xc0) === 0x80) continue; // continuation byte: look further back
    const need = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return b.length - i < need ? b.length - i : 0;
  }
  return 0;
}

/** Text an event can carry unchanged: valid UTF-8 without CR. */
function asText(b: Uint8Array): string | undefined {
  if (b.includes(0x0d)) return undefined;
  try {
    return utf8.decode(b);
  } catch {
    return undefined;
  }
}

/**
 * Job output as events, losslessly. Each event's id is the byte offset just past its bytes, so
 * a client resuming with that id (Last-Event-ID) continues with the next byte: no gap, no
 * duplicate. `log` events carry UTF-8 text (a chunk is cut at a character boundary, the rest of
 * the character goes with the next event); lines holding CR or bytes that are not UTF-8 are sent
 * as `log-b64` events (base64 of the raw bytes). With `base64`, every chunk is a `log-b64` event.
 */
export class LogEventEncoder {
  private held: Uint8Array = new Uint8Array(0);

  constructor(
    private offset: number,
    private readonly base64: boolean,
  ) {}

  /** The events for the next chunk of the log ("" when it only holds the start of a character). */
  encode(chunk: Uint8Array): string {
    let bytes = this.held.length ? Buffer.concat([this.held, chunk]) : chunk;
    const keep = this.base64 ? 0 : incompleteTail(bytes);
    this.held = Uint8Array.from(bytes.subarray(bytes.length - keep));
    bytes = bytes.subarray(0, bytes.length - keep);
    return this.event(bytes);
  }

  /** Held bytes at the end of the log (a character that never completed). */
  flush(): string {
    const rest = this.held;
    this.held = new Uint8Array(0);
    return this.event(rest);
  }

  private event(bytes: Uint8Array): string {
    if (bytes.length === 0) return "";
    if (this.base64) return this.binary(bytes);
    const text = asText(bytes);
    if (text !== undefined) return this.text(bytes.length, text);
    // Not all text: runs of whole lines that are text stay `log`, the other runs go as `log-b64`.
    let out = "";
    let run = 0;
    let runIsText: boolean | undefined;
    for (let start = 0; start < bytes.length; ) {
      const nl = bytes.indexOf(0x0a, start);
      const end = nl < 0 ? bytes.length : nl + 1;
      const isText = asText(bytes.subarray(start, end)) !== undefined;
      if (runIsText !== undefined && isText !== runIsText) {
        out += this.run(bytes.subarray(run, start), runIsText);
        run = start;
      }
      runIsText = isText;
      start = end;
    }
    return out + this.run(bytes.subarray(run), runIsText!);
  }

  private run(bytes: Uint8Array, isText: boolean): string {
    return isText ? this.text(bytes.length, utf8.decode(bytes)) : this.binary(bytes);
  }

  private text(length: number, text: string): string {
    this.offset += length;
    return frame({ event: "log", id: this.offset, data: text });
  }

  private binary(bytes: Uint8Array): string {
    this.offset += bytes.length;
    return frame({ event: "log-b64", id: this.offset, data: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("base64") });
  }
}
