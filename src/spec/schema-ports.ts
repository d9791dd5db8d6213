/**
 * `ports:` — further ports of a service, published directly beside its main `port`: RabbitMQ's
 * AMQP port beside its management UI, Elasticsearch's transport port, Logstash's inputs. They
 * do not go through the HTTP proxy (they speak their own protocols), so the one instance binds
 * them itself and the old instance must stop first: a service with `ports` rolls out by recreate.
 */
import { z } from "zod";

const portNumber = z.number().int().min(1).max(65535);

const PORT_NAME = /^[a-z][a-z0-9-]{0,30}$/;

export const extraPortSchema = z
  .union([
    portNumber,
    z
      .string()
      .regex(/^\d{1,5}(:\d{1,5})?$/, 'expected "PORT" or "PORT:CONTAINER_PORT"')
      .refine((s) => s.split(":").every((n) => Number(n) >= 1 && Number(n) <= 65535), "ports are 1 to 65535"),
    z.strictObject({
      name: z
        .string()
        .regex(PORT_NAME, "lower-case letters, digits and -, starting with a letter")
        .optional()
        .describe(
          "Names the port: the instance finds it in $PORT_<NAME> (upper-case, - as _). Default: p<port>.",
        ),
      port: portNumber.describe(
        "The port published on the host (Docker) or bound by the instance (process).",
      ),
      containerPort: portNumber
        .optional()
        .describe("Docker: the port inside the container (default: the same as port)."),
    }),
  ])
  .describe(
    'A further port: 5672, "15672:5672" (host:container) or { name: amqp, port: 5672, containerPort: 5672 }.',
  );

export const extraPortsSchema = z
  .array(extraPortSchema)
  .describe(
    "Further ports published directly, not through the proxy (message queues, transport ports). The one " +
      "instance binds them itself, so the service rolls out by recreate; other services on the same " +
      "network reach every container port by service name without publishing it.",
  );

/** One further port as the engine and drivers use it. */
export interface ExtraPort {
  name: string;
  port: number;
  containerPort: number;
}

export function normaliseExtraPorts(list: z.output<typeof extraPortsSchema> | undefined): ExtraPort[] {
  return (list ?? []).map((p) => {
    if (typeof p === "number") return { name: `p${p}`, port: p, containerPort: p };
    if (typeof p === "string") {
      const [host, container] = p.split(":").map(Number) as [number, number | undefined];
      return { name: `p${host}`, port: host, containerPort: container ?? host };
    }
    return { name: p.name ?? `p${p.port}`, port: p.port, containerPort: p.containerPort ?? p.port };
  });
}

/** The variable an instance reads a further port from: amqp → PORT_AMQP. */
export function extraPortVar(name: string): string {
  return `PORT_${name.toUpperCase().replace(/-/g, "_")}`;
}
