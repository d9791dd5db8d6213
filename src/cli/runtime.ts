/** What every command needs: global options, spec loading, running an operation, exiting. */
import { execFileSync } from "node:child_process";
import type { Command } from "commander";
import {
  Interrupted,
  SpecError,
  UsageError,
  errorMessage,
  exitCodeFor,
  toWire,
  toWireError,
  localActor,
  slipwayHome,
  loadSpecTools,
  lightRef,
  lightSpec,
  runOp,
  withCallerKubeconfig,
  type OpContext,
} from "../core.js";
import type { Resolution, resolveSpec as ResolveSpec, loadSpecFile as LoadSpecFile } from "../index.js";
import { DaemonUnreachable, ensureDaemon, knownDaemon, runRemote, type Endpoint } from "./daemon-client.js";
import { makeOut, red, renderEvent, type Out } from "./render.js";

let specModules:
  | {
      loadSpecFile: typeof LoadSpecFile;
      resolveSpec: typeof ResolveSpec;
    }
  | undefined;

export interface GlobalOptions {
  file: string;
  json?: boolean;
  server?: string;
  token?: string;
  inProcess?: boolean;
  color?: boolean;
  home?: string;
}

export class Cli {
  constructor(readonly program: Command) {}

  get opts(): GlobalOptions {
    return this.program.opts<GlobalOptions>();
  }

  get out(): Out {
    return makeOut(!!this.opts.json, this.opts.color === false);
  }

  get home(): string {
    return this.opts.home ?? slipwayHome();
  }

  /** Load and resolve the spec for an environment (the spec modules are preloaded by action()). */
  resolve(env: string, version?: string, opts: { lenientFiles?: boolean } = {}): Resolution {
    if (!specModules) throw new Error("spec modules not loaded (use cli.action without { light: true })");
    const loaded = specModules.loadSpecFile(this.opts.file);
    return specModules.resolveSpec(loaded, { env, version: version ?? defaultVersion(loaded.dir), ...opts });
  }

  /**
   * Read-only commands send only project/env/target (no schema, no interpolation: a fast start);
   * the daemon answers from the deployed revision.
   */
  async light(env: string): Promise<Resolution> {
    const spec = lightSpec(lightRef(this.opts.file, env), this.opts.file);
    return { spec, snapshot: spec, secrets: new Map(), vars: {}, light: true } as Resolution;
  }

  /** Run an operation in-process or on the daemon; events are rendered as they come. */
  async op(
    op: string,
    resolution: Resolution,
    args: Record<string, unknown>,
    ctx: Partial<OpContext> = {},
  ): Promise<unknown> {
    const out = this.out;
    const ac = new AbortController();
    let interrupted = false;
    const onSigint = () => {
      if (interrupted) process.exit(130);
      interrupted = true;
      out.stderr(
        this.opts.inProcess
          ? "interrupting: undoing what was changed…"
          : "detaching: the operation goes on in the daemon (see: slipway status)",
      );
      ac.abort();
    };
    process.on("SIGINT", onSigint);
    const context: OpContext = { emit: (e) => renderEvent(out, e), signal: ac.signal, ...ctx };
    try {
      const sent = this.callerTarget(resolution);
      const payload = { resolution: toWire(sent), args, actor: localActor() };
      if (this.opts.inProcess) {
        const { createRuntime } = await import("../index.js");
        const engine = await createRuntime({ home: this.home });
        try {
          return await runOp(engine.slipway(sent.spec.target), op, payload, context);
        } finally {
          await engine.close();
        }
      }
      if (this.opts.server) {
        const server = {
          url: this.opts.server.replace(/\/$/, ""),
          token: this.opts.token ?? process.env.SLIPWAY_TOKEN ?? "",
        };
        return await runRemote(server, op, payload, context);
      }
      // Try the daemon SLIPWAY_HOME names (its unix socket); start one only when nothing answers there.
      const known = knownDaemon(this.home);
      try {
        if (known) {
          try {
            return await runRemote(this.local(known), op, payload, context);
          } catch (e) {
            if (!(e instanceof DaemonUnreachable)) throw e;
          }
        }
        return await runRemote(this.local(await ensureDaemon(this.home)), op, payload, context);
      } catch (e) {
        // Exit 130, the documented code; not an internal error (a plain Error would be one).
        if (interrupted)
          throw new Interrupted(
            `interrupted: the ${op} goes on in the daemon (see: slipway status ${resolution.spec.env})`,
          );
        throw e;
      }
    } finally {
      process.off("SIGINT", onSigint);
    }
  }

  /**
   * The spec as this shell would run it: a Kubernetes target gets the caller's kubeconfig (the
   * local daemon has another environment). A remote daemon (`--server`) uses its own.
   */
  private callerTarget(r: Resolution): Resolution {
    if (this.opts.server) return r;
    const target = withCallerKubeconfig(r.spec.target);
    return target === r.spec.target ? r : { ...r, spec: { ...r.spec, target } };
  }

  /**
   * The local daemon: over its socket as the owner of SLIPWAY_HOME, or with `--token` (and no
   * `--server`) over its TCP listener as that token's principal.
   */
  private local(d: Endpoint): Endpoint {
    return this.opts.token ? { url: d.url, token: this.opts.token } : d;
  }

  /** The daemon to manage users and tokens on (`--server`, else the local one, started on demand). */
  async endpoint(): Promise<Endpoint> {
    if (this.opts.server)
      return {
        url: this.opts.server.replace(/\/$/, ""),
        token: this.opts.token ?? process.env.SLIPWAY_TOKEN ?? "",
      };
    return this.local(await ensureDaemon(this.home));
  }

  /** Print the result (JSON: exactly one document) and exit with the documented code. */
  finish(result: unknown, human: (out: Out) => void, exitCode = 0): never {
    const out = this.out;
    if (out.json) out.stdout(JSON.stringify({ ok: exitCode === 0, result }, null, 2));
    else human(out);
    exitAfterFlush(exitCode);
  }

  fail(e: unknown): never {
    const out = this.out;
    const w = toWireError(e);
    const code = w.exitCode ?? exitCodeFor(w.name);
    if (out.json) {
      const { stack: _stack, ...details } = w.details ?? {};
      out.stdout(
        JSON.stringify(
          {
            ok: false,
            error: { ...w, details: Object.keys(details).length ? details : undefined },
            exitCode: code,
          },
          null,
          2,
        ),
      );
    } else {
      out.stderr(
        red(
          out,
          `✖ ${w.name === "SpecError" ? "invalid spec:\n  " + w.message.split("\n").join("\n  ") : w.message}`,
        ),
      );
      if (w.name === "InternalError" && process.env.SLIPWAY_DEBUG && w.details?.stack)
        out.stderr(String(w.details.stack));
      else if (w.name === "InternalError")
        out.stderr("  (an internal error: run with SLIPWAY_DEBUG=1 for details, and please report it)");
    }
    exitAfterFlush(code);
  }

  /** Wrap a command action: every error ends in fail(). */
  action<A extends unknown[]>(
    fn: (...args: A) => Promise<void>,
    opts: { light?: boolean } = {},
  ): (...args: A) => Promise<void> {
    return async (...args: A) => {
      try {
        // The schema (zod) and YAML-with-positions modules cost a noticeable start-up; commands
        // that do not resolve the spec skip them.
        if (!opts.light && !specModules) {
          const tools = await loadSpecTools();
          specModules = { loadSpecFile: tools.loadSpecFile, resolveSpec: tools.resolveSpec };
        }
        await fn(...args);
      } catch (e) {
        if (e instanceof ExitSignal) return;
        try {
          this.fail(e);
        } catch (x) {
          if (!(x instanceof ExitSignal)) throw x;
        }
      }
    };
  }
}

/** Exit once stdout and stderr are flushed (process.exit alone can cut piped output). */
export function exitAfterFlush(code: number): never {
  process.exitCode = code;
  process.stdout.write("", () => process.stderr.write("", () => process.exit(code)));
  // Keep the caller from going on while the writes flush.
  throw new ExitSignal(code);
}

export class ExitSignal extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

/** The default version label: short git sha of the spec's directory (+ -dirty), else a timestamp. */
export function defaultVersion(dir: string): string {
  try {
    const sha = execFileSync("git", ["rev-parse", "--short", "HEAD"], {
      cwd: dir,
      stdio: ["ignore", "pipe", "ignore"],
    })
      .toString()
      .trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--", "."], {
      cwd: dir,
      stdio: ["ignore", "pipe", "ignore"],
    })
      .toString()
      .trim();
    if (sha) return dirty ? `${sha}-dirty` : sha;
  } catch {
    /* not a git checkout */
  }
  return new Date().toISOString().replace(/[-:T]/g, "").slice(0, 14);
}

export function parseIntArg(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`${name}: expected a whole number, got "${v}"`);
  return Number(v);
}

export { SpecError, errorMessage };
