// Daemon logging as the `logging` section describes: a level, json or text, several outputs
// (stdout, stderr, files with size rotation and age limits) and per-component levels.
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readdirSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { ServerConfig } from "../../config/load";

export type Level = "debug" | "info" | "warn" | "error";
type LoggingSettings = ServerConfig["logging"];
type OutputSettings = LoggingSettings["outputs"][number];
export type Fields = Record<string, unknown>;

const RANK: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

interface Record_ {
  time: Date;
  level: Level;
  component: string;
  msg: string;
  fields?: Fields;
}

function formatText(r: Record_): string {
  const extra = r.fields
    ? Object.entries(r.fields)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => ` ${k}=${typeof v === "string" && !/\s|"/.test(v) ? v : JSON.stringify(v)}`)
        .join("")
    : "";
  return `${r.time.toISOString()} ${r.level.toUpperCase().padEnd(5)} [${r.component}] ${r.msg}${extra}\n`;
}

function formatJson(r: Record_): string {
  return `${JSON.stringify({ time: r.time.toISOString(), level: r.level, component: r.component, msg: r.msg, ...r.fields })}\n`;
}

interface Sink {
  minLevel?: Level;
  write(r: Record_): void;
  close(): void;
}

class StreamSink implements Sink {
  constructor(
    private fd: number,
    private format: (r: Record_) => string,
    readonly minLevel?: Level,
  ) {}
  write(r: Record_): void {
    try {
      writeSync(this.fd, this.format(r));
    } catch {
      // A closed stdout (daemon detached from its terminal) must not take the daemon down.
    }
  }
  close(): void {}
}

/** An append-only log file, rotated to path.1 … path.N when it passes maxSize. */
export class RotatingFile implements Sink {
  private fd: number;
  private size: number;

  constructor(
    private path: string,
    private opts: { rotate: boolean; maxSize: number; maxBackups: number; maxAgeDays: number },
    private format: (r: Record_) => string,
    readonly minLevel?: Level,
  ) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o750 });
    this.fd = openSync(path, "a", 0o640);
    this.size = fstatSync(this.fd).size;
    this.pruneOld();
  }

  write(r: Record_): void {
    const line = Buffer.from(this.format(r));
    if (this.opts.rotate && this.opts.maxSize > 0 && this.size > 0 && this.size + line.length > this.opts.maxSize) {
      this.rotateNow();
    }
    writeSync(this.fd, line);
    this.size += line.length;
  }

  rotateNow(): void {
    closeSync(this.fd);
    const keep = this.opts.maxBackups;
    if (keep === 0) unlinkSync(this.path);
    else {
      for (let i = keep; i >= 1; i--) {
        const from = i === 1 ? this.path : `${this.path}.${i - 1}`;
        if (existsSync(from)) renameSync(from, `${this.path}.${i}`);
      }
    }
    this.fd = openSync(this.path, "a", 0o640);
    this.size = 0;
    this.pruneOld();
  }

  /** Removes backups beyond max_backups or older than max_age days. */
  private pruneOld(): void {
    const dir = dirname(this.path);
    const base = basename(this.path);
    const cutoff = this.opts.maxAgeDays > 0 ? Date.now() - this.opts.maxAgeDays * 86_400_000 : 0;
    for (const name of readdirSync(dir)) {
      const m = name.startsWith(`${base}.`) ? /^\d+$/.exec(name.slice(base.length + 1)) : null;
      if (!m) continue;
      const full = join(dir, name);
      const n = Number(m[0]);
      if (n > this.opts.maxBackups || (cutoff && statSync(full).mtimeMs < cutoff)) unlinkSync(full);
    }
  }

  close(): void {
    closeSync(this.fd);
  }
}

class Core {
  constructor(
    readonly level: Level,
    readonly components: Readonly<Record<string, Level>>,
    readonly sinks: Sink[],
  ) {}

  enabled(component: string, level: Level): boolean {
    return RANK[level] >= RANK[this.components[component] ?? this.level];
  }

  emit(r: Record_): void {
    for (const s of this.sinks) if (!s.minLevel || RANK[r.level] >= RANK[s.minLevel]) s.write(r);
  }
}

export class Logger {
  private constructor(
    private core: Core,
    readonly component: string,
  ) {}

  static create(settings: LoggingSettings): Logger {
    const sinks = settings.outputs.map((o: OutputSettings): Sink => {
      const format = (o.format ?? settings.format) === "json" ? formatJson : formatText;
      if (o.type === "file") {
        return new RotatingFile(o.path!, { rotate: o.rotate, maxSize: o.max_size, maxBackups: o.max_backups, maxAgeDays: o.max_age }, format, o.level);
      }
      return new StreamSink(o.type === "stderr" ? 2 : 1, format, o.level);
    });
    return new Logger(new Core(settings.level, settings.components, sinks), "joblet");
  }

  /** Plain text to stderr; for commands that run before the configuration is loaded. */
  static console(level: Level = "info"): Logger {
    return new Logger(new Core(level, {}, [new StreamSink(2, formatText)]), "joblet");
  }

  child(component: string): Logger {
    return new Logger(this.core, component);
  }

  private log(level: Level, msg: string, fields?: Fields): void {
    if (this.core.enabled(this.component, level)) this.core.emit({ time: new Date(), level, component: this.component, msg, fields });
  }

  debug(msg: string, fields?: Fields): void {
    this.log("debug", msg, fields);
  }
  info(msg: string, fields?: Fields): void {
    this.log("info", msg, fields);
  }
  warn(msg: string, fields?: Fields): void {
    this.log("warn", msg, fields);
  }
  error(msg: string, fields?: Fields): void {
    this.log("error", msg, fields);
  }

  close(): void {
    for (const s of this.core.sinks) s.close();
  }
}
