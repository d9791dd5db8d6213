/**
 * An instance's life on an engine: start a labelled container, stop it (remove, or keep it
 * renamed as retired), one-off containers of a release, and commands inside a running one.
 */
import { randomBytes } from "node:crypto";
import type Docker from "dockerode";
import type { Instance, InstanceRequest, StopOptions } from "../driver.js";
import { DriverError } from "../../errors.js";
import { toInstance } from "./containers.js";
import { createOptions, instanceName, secretFiles } from "./container-spec.js";
import { demuxAll } from "./demux.js";
import type { EngineInfos } from "./engine-info.js";
import { status, type Engines } from "./engines.js";
import { engineError, type EngineHost } from "./hosts.js";
import { LABELS, networkName, retiredName } from "./names.js";
import type { Networks } from "./networks.js";
import { secretsTar } from "./secret-files.js";

export interface DriverParts {
  engines: Engines;
  infos: EngineInfos;
  networks: Networks;
}

type CommandResult = { exitCode: number; output: string };

export async function startContainer(p: DriverParts, req: InstanceRequest): Promise<Instance> {
  const { engines } = p;
  const h = engines.hostFor(req.service, req.index);
  await p.infos.assertGpus(h, req.service);
  await p.networks.ensure(h, req.project, req.env);
  await p.networks.ensureVolumes(h, req);
  let opts;
  try {
    opts = createOptions(req, {
      network: networkName(req.project, req.env),
      publishAddress: engines.publishOn(h),
    });
    // Where it runs, for inspect() and for people (docker ps --filter label=slipway.host=…).
    opts.Labels = { ...opts.Labels, [LABELS.host]: h.key };
  } catch (e) {
    throw new DriverError("docker", `${req.service.name}: ${(e as Error).message}`);
  }
  const name = instanceName(req);
  // A container with this name is a leftover of an interrupted attempt at the same instance.
  await h.docker
    .getContainer(name)
    .remove({ force: true, v: false })
    .then(() => engines.logger.warn(`removed leftover container ${name} on ${h.key}`))
    .catch(() => undefined);
  engines.logger.info(`starting ${name} on ${h.key}`, { image: req.artifact.ref });
  const info = await engines
    .on(h, async (d) => {
      const c = await d.createContainer(opts);
      try {
        await putSecrets(c, req);
        await c.start();
      } catch (e) {
        await c.remove({ force: true }).catch(() => undefined);
        throw e;
      }
      return c.inspect();
    })
    .catch((e: unknown) => {
      throw e instanceof DriverError && /No such image/i.test(e.message)
        ? new DriverError("docker", `image ${req.artifact.ref} not found on host ${h.key}; run prepare first`)
        : e;
    });
  const inst = toInstance(info, h);
  if (!inst) throw new DriverError("docker", `container ${name} on ${h.key} lacks Slipway labels`);
  return inst;
}

export async function stopInstance(
  engines: Engines,
  instance: Instance,
  opts: StopOptions,
): Promise<{ keptAs?: string } | void> {
  const known = engines.hostOf(instance);
  for (const h of known ? [known] : engines.hosts) {
    const c = h.docker.getContainer((instance.meta?.containerId as string | undefined) ?? instance.id);
    const r = await stopContainer(engines, h, c, opts).then(
      (keptAs) => ({ gone: false, keptAs }),
      (e: unknown) => {
        if (status(e) === 404) return { gone: true, keptAs: undefined };
        throw engineError(h, e);
      },
    );
    if (!r.gone) {
      engines.logger.info(`stopped ${instance.id} on ${h.key}${r.keptAs ? `, kept as ${r.keptAs}` : ""}`);
      return r.keptAs ? { keptAs: r.keptAs } : undefined;
    }
  }
}

/** Stop a container; remove it, or with `retire` rename it and return the new name. */
async function stopContainer(
  engines: Engines,
  h: EngineHost,
  c: Docker.Container,
  opts: StopOptions,
): Promise<string | undefined> {
  // Stop the engine from restarting what Slipway is stopping.
  await c.update({ RestartPolicy: { Name: "no" } }).catch((e: unknown) => {
    if (status(e) === 404) throw e;
  });
  const info = await c.inspect();
  if (info.State.Running) {
    await c.kill({ signal: opts.signal }).catch((e: unknown) => {
      if (status(e) !== 409) throw e;
    });
    const exited = await Promise.race([
      c.wait({ condition: "not-running" }).then(() => true),
      new Promise<false>((r) => setTimeout(() => r(false), opts.graceMs).unref()),
    ]);
    if (!exited) {
      engines.logger.warn(
        `${info.Name.slice(1)} on ${h.key} did not exit within ${opts.graceMs} ms: SIGKILL`,
      );
      await c.kill({ signal: "SIGKILL" }).catch(() => undefined);
    }
  }
  if (opts.retire) {
    const name = retiredName(info.Name.slice(1), opts.retire);
    const renamed = await c.rename({ name }).then(
      () => true,
      (e: unknown) => {
        if (status(e) === 404) throw e;
        // Under its old name it would pass for a live instance that exited: remove it instead.
        engines.logger.warn(
          `cannot keep ${info.Name.slice(1)} on ${h.key} (${(e as Error).message}); removing it`,
        );
        return false;
      },
    );
    if (renamed) return name;
  }
  // Named volumes are kept (v: false); only the container goes.
  await c.remove({ force: true, v: false });
  return undefined;
}

export async function runOneOff(
  p: DriverParts,
  req: InstanceRequest,
  command: string,
  opts: { timeoutMs: number; signal?: AbortSignal },
): Promise<CommandResult> {
  const { engines } = p;
  // Where the service runs (a stateful service's host has its volumes).
  const h = engines.hostsOf(req.service)[0] as EngineHost;
  await p.networks.ensure(h, req.project, req.env);
  await p.networks.ensureVolumes(h, req);
  const base = createOptions(
    { ...req, service: { ...req.service, health: undefined } },
    { network: networkName(req.project, req.env), publishAddress: engines.publishOn(h) },
  );
  const name = `${base.name}-run-${randomBytes(3).toString("hex")}`;
  const hostConfig = { ...base.HostConfig, RestartPolicy: { Name: "no" } };
  delete hostConfig.PortBindings;
  engines.logger.info(`running a one-off container of ${req.service.name} on ${h.key}`);
  return engines.on(h, async (d) => {
    const c = await d.createContainer({
      ...base,
      name,
      Cmd: ["sh", "-c", command],
      Labels: { ...base.Labels, [LABELS.oneoff]: "true" },
      HostConfig: hostConfig,
      NetworkingConfig: { EndpointsConfig: { [networkName(req.project, req.env)]: {} } },
    });
    try {
      await putSecrets(c, req);
      await c.start();
      return await waitOneOff(c, opts);
    } finally {
      await c.remove({ force: true, v: false }).catch(() => undefined);
    }
  });
}

/** Wait for a started one-off container (killed on timeout or abort) and collect its output. */
async function waitOneOff(
  c: Docker.Container,
  opts: { timeoutMs: number; signal?: AbortSignal },
): Promise<CommandResult> {
  let timedOut = false;
  const kill = () => c.kill({ signal: "SIGKILL" }).catch(() => undefined);
  const timer = setTimeout(() => {
    timedOut = true;
    void kill();
  }, opts.timeoutMs);
  opts.signal?.addEventListener("abort", kill, { once: true });
  const r = (await c.wait()) as { StatusCode: number };
  clearTimeout(timer);
  opts.signal?.removeEventListener("abort", kill);
  const buf = (await c.logs({ stdout: true, stderr: true, follow: false })) as Buffer;
  let output = demuxAll(buf);
  if (timedOut) output += `\n(killed after ${opts.timeoutMs} ms)`;
  return { exitCode: timedOut ? 124 : r.StatusCode, output };
}

/** `secrets.as: files`: the values go into the created container's filesystem before it starts. */
async function putSecrets(c: Docker.Container, req: InstanceRequest): Promise<void> {
  const files = secretFiles(req);
  if (!Object.keys(files).length) return;
  const s = req.service.secrets;
  await c.putArchive(secretsTar(files, { uid: s?.uid, gid: s?.gid }), { path: "/" });
}

/** Run a command inside a running instance (exec probes, `slipway exec`). */
export async function execIn(
  engines: Engines,
  instance: Instance,
  command: string | string[],
  opts: { timeoutMs?: number },
): Promise<CommandResult> {
  const { h, c } = engines.containerOf(instance);
  const cmd = Array.isArray(command) ? command : ["sh", "-c", command];
  return engines.on(h, async () => {
    const ex = await c.exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
    const stream = await ex.start({ hijack: true, stdin: false });
    const chunks: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        stream.destroy();
        reject(new Error(`exec timed out after ${opts.timeoutMs} ms`));
      }, opts.timeoutMs ?? 60_000);
      stream.on("data", (b: Buffer) => chunks.push(b));
      stream.on("end", () => (clearTimeout(timer), resolve()));
      stream.on("error", (e) => (clearTimeout(timer), reject(e)));
    });
    const r = await ex.inspect();
    return { exitCode: r.ExitCode ?? -1, output: demuxAll(Buffer.concat(chunks)) };
  });
}
