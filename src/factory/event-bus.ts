/** Fans every engine event out to the subscribers; alerts are also kept in the store's timeline. */
import type { EngineEvent } from "../engine/events.js";
import type { Logger } from "../logger.js";
import type { Store } from "../store/store.js";

export type EventSubscriber = (project: string, env: string, e: EngineEvent) => void;

export class EventBus {
  private readonly subscribers = new Set<EventSubscriber>();

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
  ) {}

  subscribe(fn: EventSubscriber): () => void {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }

  /** An arrow so it can be handed around as the engine's `publish`. */
  readonly publish = (project: string, env: string, e: EngineEvent): void => {
    if (e.type === "alert") this.record(project, env, e);
    for (const fn of this.subscribers) {
      try {
        fn(project, env, e);
      } catch (err) {
        this.logger.warn(`event subscriber failed: ${(err as Error).message}`);
      }
    }
  };

  private record(project: string, env: string, e: Extract<EngineEvent, { type: "alert" }>): void {
    void this.store
      .addEvent({
        project,
        env,
        time: new Date().toISOString(),
        kind: e.kind,
        severity: e.severity,
        service: e.service,
        revision: e.revision,
        message: e.message,
        data: e.data,
      })
      .catch((err: Error) => this.logger.warn(`could not record event: ${err.message}`));
  }
}
