/**
 * Data-aware deploys end to end (issue 7): the real CLI and daemon, real app processes, and a real
 * PostgreSQL 15 started by the test. A `data` service carries a postgres backup block (before:
 * deploy) and migrations that are small shell scripts using psql against the test database.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pgBinDir, startPostgres, type PgServer } from "../support/postgres.js";
import { makeProject, type Project } from "./harness.js";

/**
 * A tiny migration tool: every version applied leaves a row in schema_versions and appends
 * "+<version>" to every note; down undoes exactly that for $SLIPWAY_VERSION. With MIGRATE_FAIL=1,
 * up changes data and then fails inside the same transaction (psql -c runs one transaction).
 */
const MIGRATE_SH = `#!/bin/sh
case "$1" in
  up)
    if [ "$MIGRATE_FAIL" = "1" ]; then
      psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -q -c "INSERT INTO notes (body) VALUES ('half-migrated'); SELECT 1/0;" || exit 1
    fi
    psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -q -c "INSERT INTO schema_versions VALUES ('$SLIPWAY_VERSION'); UPDATE notes SET body = body || '+$SLIPWAY_VERSION';" || exit 1
    echo "applied $SLIPWAY_VERSION" ;;
  down)
    psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -q -c "DELETE FROM schema_versions WHERE version = '$SLIPWAY_VERSION'; UPDATE notes SET body = replace(body, '+$SLIPWAY_VERSION', '');" || exit 1
    echo "reverted $SLIPWAY_VERSION" ;;
  status)
    echo "target=\${MIGRATE_TO:-latest}"
    echo "applied=$(psql "$DATABASE_URL" -At -c "SELECT string_agg(version, ',' ORDER BY version) FROM schema_versions")" ;;
esac
`;

const DATA_SERVICE = `  data:
    run: node worker.js
    path: ./app
    env:
      RELEASE: "\${VERSION}"
      DATABASE_URL: "\${DATABASE_URL}"
      MIGRATE_FAIL: "\${MIGRATE_FAIL:-0}"
    stop: { grace: 2s }
    migrate: { up: sh migrate.sh up, down: sh migrate.sh down, status: sh migrate.sh status }
    backup: { type: postgres, url: "\${DATABASE_URL}", before: deploy, retention: { keepLast: 10 } }
`;

interface BackupJson {
  id: string;
  service: string;
  revision?: number;
  status: string;
  size?: number;
  location?: string;
}
interface RevisionJson {
  number: number;
  version: string;
  status: string;
  facts: {
    backups?: Record<string, string>;
    releaseBackup?: string;
    migrations?: Record<string, boolean>;
    dataRollback?: { revisions: number[] };
  };
}

let db: PgServer | undefined;
/**
 * A connection per query: a restore swaps the database in by renaming it and ends the
 * connections to the one it replaces (docs/backups.md), as a pool's would be.
 */
interface Db {
  query<T extends pg.QueryResultRow = pg.QueryResultRow>(q: string): Promise<pg.QueryResult<T>>;
  end(): Promise<void>;
}
function connectionPerQuery(url: string): Db {
  return {
    async query<T extends pg.QueryResultRow>(q: string) {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        return await c.query<T>(q);
      } finally {
        await c.end();
      }
    },
    end: async () => {},
  };
}

let client: Db | undefined;
let p: Project | undefined;

beforeAll(async () => {
  db = await startPostgres();
  client = connectionPerQuery(db.url);
  await client.query(`CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL);
    INSERT INTO notes (body) VALUES ('a'), ('b');
    CREATE TABLE schema_versions (version text PRIMARY KEY);`);
  p = await makeProject(DATA_SERVICE);
  writeFileSync(join(p.dir, "app", "migrate.sh"), MIGRATE_SH);
  chmodSync(join(p.dir, "app", "migrate.sh"), 0o755);
  p.env.DATABASE_URL = db.url;
}, 60_000);

afterAll(async () => {
  await p?.cleanup();
  await client?.end();
  await db?.stop();
}, 60_000);

async function notes(): Promise<string[]> {
  return (await client!.query<{ body: string }>("SELECT body FROM notes ORDER BY id")).rows.map(
    (r) => r.body,
  );
}
async function versions(): Promise<string[]> {
  return (
    await client!.query<{ version: string }>("SELECT version FROM schema_versions ORDER BY version")
  ).rows.map((r) => r.version);
}
function revision(n: number): RevisionJson {
  const h = p!.cli(["history", "development", String(n), "--json"]);
  expect(h.code, h.stderr).toBe(0);
  return h.json<{ result: { revision: RevisionJson }[] }>().result[0].revision;
}

describe("backups and migrations in deploys and rollbacks", () => {
  it("backs up before a deploy, keeps the old release on a failed migration, rolls code and data back", async () => {
    const pr = p!;
    const d1 = pr.cli(["deploy", "development", "--version", "v1"]);
    expect(d1.code, d1.stderr).toBe(0);
    expect(d1.stderr).toMatch(/✔ migrate data up/);
    expect(await versions()).toEqual(["v1"]);
    // First deploy: nothing was running, so nothing to back up.
    expect(revision(1).facts).toMatchObject({ migrations: { data: true } });
    expect(revision(1).facts.backups).toBeUndefined();

    const d2 = pr.cli(["deploy", "development", "--version", "v2"]);
    expect(d2.code, d2.stderr).toBe(0);
    expect(d2.stderr).toMatch(/✔ back up data .*data-\d{8}T\d{6}Z-[0-9a-f]{4}/);
    const r2 = revision(2);
    const backupId = r2.facts.backups?.data;
    expect(backupId).toMatch(/^data-/);
    expect(await versions()).toEqual(["v1", "v2"]);
    expect(await notes()).toEqual(["a+v1+v2", "b+v1+v2"]);
    const listed = pr.cli(["backups", "development", "--json"]).json<{ result: { backups: BackupJson[] } }>();
    expect(listed.result.backups.find((b) => b.id === backupId)).toMatchObject({
      service: "data",
      revision: 2,
      status: "ok",
    });
    // The release it replaced (revision 1) went on record too: spec with secrets as templates, images.
    expect(d2.stderr).toMatch(/✔ record release r1 \(spec and images\) .*release-\d{8}T\d{6}Z-[0-9a-f]{4}/);
    const releaseId = r2.facts.releaseBackup;
    const release = listed.result.backups.find((b) => b.id === releaseId);
    expect(release).toMatchObject({ service: "_release", revision: 1, status: "ok" });
    const text = readFileSync(release!.location!, "utf8");
    expect(text).not.toContain(db!.url);
    const snap = JSON.parse(text) as {
      format: string;
      revision: number;
      spec: { version: string; services: Record<string, { env: Record<string, string> }> };
      images: Record<string, string>;
    };
    expect(snap).toMatchObject({ format: "slipway-release/1", revision: 1, spec: { version: "v1" } });
    expect(snap.spec.services.data.env.DATABASE_URL).toBe("${DATABASE_URL}");
    expect(Object.keys(snap.images).sort()).toEqual(["api", "data", "web", "worker"]);
    for (const ref of Object.values(snap.images)) expect(ref).toMatch(/releases?\/.*1/);
    expect(pr.cli(["backups", "development"]).stdout).toMatch(new RegExp(`${releaseId}\\s+_release\\s+1\\s`));

    // A failing migration: the deploy stops before any switch; v2 serves, the data is as it was.
    const d3 = pr.cli(["deploy", "development", "--version", "v3"], { env: { MIGRATE_FAIL: "1" } });
    expect(d3.code, d3.stderr).toBe(1);
    expect(d3.stderr).toMatch(/data: migration failed \(exit 1\)/);
    expect((await pr.get("api")).body).toBe("v2");
    expect((await pr.get("web")).body).toBe("v2");
    expect(await versions()).toEqual(["v1", "v2"]);
    expect(await notes()).toEqual(["a+v1+v2", "b+v1+v2"]);
    expect(revision(3).status).toBe("failed");

    // The dry run is the whole plan: the backup of the data it replaces, then the data step,
    // alone in its group, then the code.
    type PlanJson = {
      result: {
        plan: { steps: { seq: number; kind: string; service?: string; group: number; data?: object }[] };
      };
    };
    const dry = pr.cli(["rollback", "development", "1", "--with-db", "--dry-run", "--json"]);
    expect(dry.code, dry.stderr).toBe(0);
    const planned = dry.json<PlanJson>().result.plan.steps;
    expect(planned[0]).toMatchObject({ seq: 1, kind: "backup", service: "data", group: 0 });
    const downStep = planned.find((x) => x.kind === "migrate-down");
    expect(downStep).toMatchObject({
      kind: "migrate-down",
      service: "data",
      group: 1,
      data: { revision: 2, version: "v2", action: "down" },
    });
    expect(planned.filter((x) => x.group === downStep!.group)).toHaveLength(1);
    expect(planned.filter((x) => x.kind === "migrate-down" || x.kind === "restore")).toHaveLength(1);
    expect(planned.map((x) => x.kind)).toContain("rollout");
    const human = pr.cli(["rollback", "development", "1", "--with-db", "--dry-run"]);
    expect(human.stdout).toContain("migrate data down (undo revision 2, v2)");
    // Without --with-db the plan moves the code only.
    const codeOnly = pr.cli(["rollback", "development", "1", "--dry-run", "--json"]).json<PlanJson>();
    expect(codeOnly.result.plan.steps.map((x) => x.kind)).not.toContain("migrate-down");
    expect(await versions()).toEqual(["v1", "v2"]);

    // Back to revision 1 with its data: the down-migration of v2 (from v2's release), then the code.
    const rb = pr.cli(["rollback", "development", "1", "--with-db", "--json"]);
    expect(rb.code, rb.stderr).toBe(0);
    const journal = rb.json<{ result: { steps: { kind: string; status: string; message?: string }[] } }>()
      .result.steps;
    expect(journal.find((x) => x.kind === "migrate-down")).toMatchObject({
      kind: "migrate-down",
      status: "ok",
      message: "down-migration of revision 2 applied",
    });
    expect(rb.stderr).toMatch(/data: migrate down \(revision 2, v2\)/);
    expect((await pr.get("api")).body).toBe("v1");
    expect(await versions()).toEqual(["v1"]);
    expect(await notes()).toEqual(["a+v1", "b+v1"]);
    const r4 = revision(4);
    expect(r4).toMatchObject({ version: "v1", status: "deployed" });
    expect(r4.facts.dataRollback?.revisions).toEqual([2]);

    // `migrate status` runs in the deployed release; --to reaches the command as MIGRATE_TO.
    const st = pr.cli(["migrate", "development", "status", "--to", "7"]);
    expect(st.code, st.stderr).toBe(0);
    expect(st.stdout).toContain("target=7");
    expect(st.stdout).toContain("applied=v1");

    // Without --with-db a rollback across a migration says exactly what to run; running it works.
    const d5 = pr.cli(["deploy", "development", "--version", "v5"]);
    expect(d5.code, d5.stderr).toBe(0);
    expect(await versions()).toEqual(["v1", "v5"]);
    const rb2 = pr.cli(["rollback", "development"]);
    expect(rb2.code, rb2.stderr).toBe(0);
    expect(rb2.stderr).toContain("slipway rollback development 4 --with-db");
    expect(rb2.stderr).toContain("slipway migrate development down data --revision 5");
    expect(await versions()).toEqual(["v1", "v5"]);
    const down = pr.cli(["migrate", "development", "down", "data", "--revision", "5"]);
    expect(down.code, down.stderr).toBe(0);
    expect(down.stdout).toContain("reverted v5");
    expect(await versions()).toEqual(["v1"]);
    expect(await notes()).toEqual(["a+v1", "b+v1"]);
  }, 150_000);

  it("backup, backups, backup verify and restore round trip; restore needs a confirmation", async () => {
    const pr = p!;
    const b = pr.cli(["backup", "development", "--json"]);
    expect(b.code, b.stderr).toBe(0);
    const [taken] = b.json<{ result: { backups: BackupJson[] } }>().result.backups;
    expect(taken).toMatchObject({ service: "data", status: "ok" });
    expect(taken.size).toBeGreaterThan(0);

    const table = pr.cli(["backups", "development"]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/ID\s+SERVICE\s+REV\s+TIME\s+SIZE\s+STATUS/);
    expect(table.stdout).toMatch(new RegExp(`${taken.id}\\s+data\\s+-\\s+`));

    const v = pr.cli(["backup", "verify", "development", taken.id, "--json"]);
    expect(v.code, v.stderr).toBe(0);
    expect(v.json<{ result: { backup: BackupJson } }>().result.backup.status).toBe("verified");

    await client!.query("UPDATE notes SET body = 'changed'; INSERT INTO notes (body) VALUES ('new')");
    // No terminal and no --yes: refused (exit 4), nothing changed.
    const refused = pr.cli(["restore", "development", taken.id]);
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(/confirm at a terminal or pass --yes/);
    expect(await notes()).toEqual(["changed", "changed", "new"]);
    // A protected environment needs --yes whatever the terminal.
    const prot = pr.cli(["restore", "production", taken.id]);
    expect(prot.code).toBe(4);
    expect(prot.stderr).toMatch(/"production" is protected: restore needs --yes/);

    const unknown = pr.cli(["restore", "development", "data-19700101T000000Z-0000", "--yes", "--json"]);
    expect(unknown.code).toBe(2);
    expect(unknown.json<{ error: { message: string } }>().error.message).toMatch(/no backup with id/);

    const r = pr.cli(["restore", "development", taken.id, "--yes"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`data restored from ${taken.id}`);
    expect(await notes()).toEqual(["a+v1", "b+v1"]);

    const pruned = pr.cli(["backups", "prune", "development", "--json"]);
    expect(pruned.code, pruned.stderr).toBe(0);
    // keepLast 10 and nothing older than 30 days: nothing goes.
    expect(
      pruned.json<{ result: { removed: { service: string; ids: string[] }[] } }>().result.removed,
    ).toEqual([
      { service: "data", ids: [] },
      { service: "_release", ids: [] },
    ]);
  }, 90_000);
});

/**
 * `rollback --with-db` through a backup restore: a service with a postgres backup before every
 * deploy and no migrations at all. The data goes back to what the backup recorded by the deploy
 * that replaced the target holds.
 */
const STORE_SERVICE = `  store:
    run: node worker.js
    path: ./app
    env: { RELEASE: "\${VERSION}", DATABASE_URL: "\${STORE_URL}" }
    stop: { grace: 2s }
    backup: { type: postgres, url: "\${STORE_URL}", before: deploy, retention: { keepLast: 1 } }
`;

/** A second-layer service (it depends on api) whose migration fails. */
const JOBS_SERVICE = `  jobs:
    run: node worker.js
    path: ./app
    dependsOn: [api]
    env: { RELEASE: "\${VERSION}" }
    stop: { grace: 2s }
    migrate:
      up: echo "jobs migration refused"; exit 3
`;

describe("rollback --with-db restores the backup recorded by the replacing deploy", () => {
  let sp: Project | undefined;
  let store: Db | undefined;
  beforeAll(async () => {
    await client!.query("CREATE DATABASE store_e2e");
    const url = new URL(db!.url);
    url.pathname = "/store_e2e";
    store = connectionPerQuery(url.toString());
    await store.query("CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL)");
    sp = await makeProject(STORE_SERVICE);
    sp.env.STORE_URL = url.toString();
  }, 60_000);
  afterAll(async () => {
    await sp?.cleanup();
    await store?.end();
  }, 60_000);
  const items = async () =>
    (await store!.query<{ id: number; name: string }>("SELECT id, name FROM items ORDER BY id")).rows;

  it("deploy v1, write, deploy v2 (backup), change, rollback 1 --with-db: v1 code and the backup's data", async () => {
    const pr = sp!;
    const d1 = pr.cli(["deploy", "development", "--version", "v1"]);
    expect(d1.code, d1.stderr).toBe(0);
    await store!.query("INSERT INTO items VALUES (1, 'one'), (2, 'two')");

    const d2 = pr.cli(["deploy", "development", "--version", "v2"]);
    expect(d2.code, d2.stderr).toBe(0);
    const h2 = pr.cli(["history", "development", "2", "--json"]);
    const r2 = h2.json<{ result: { revision: RevisionJson }[] }>().result[0].revision;
    const backupId = r2.facts.backups?.store;
    expect(backupId).toMatch(/^store-/);
    expect(r2.facts.migrations).toBeUndefined();
    expect((await pr.get("api")).body).toBe("v2");

    await store!.query("UPDATE items SET name = 'changed' WHERE id = 1; DELETE FROM items WHERE id = 2");
    await store!.query("INSERT INTO items VALUES (3, 'three')");

    const dry = pr.cli(["rollback", "development", "1", "--with-db", "--dry-run", "--json"]);
    expect(dry.code, dry.stderr).toBe(0);
    const planned = dry.json<{ result: { plan: { steps: { kind: string; data?: object }[] } } }>().result.plan
      .steps;
    expect(planned.find((x) => x.kind === "restore")).toMatchObject({
      kind: "restore",
      data: { revision: 2, action: "restore", backupId, backupService: "store" },
    });
    // The rollback backs up the data it is about to replace first (docs/backups.md).
    expect(planned.findIndex((x) => x.kind === "backup")).toBeLessThan(
      planned.findIndex((x) => x.kind === "restore"),
    );
    // A dry run changed nothing.
    expect(await items()).toEqual([
      { id: 1, name: "changed" },
      { id: 3, name: "three" },
    ]);

    const rb = pr.cli(["rollback", "development", "1", "--with-db", "--yes", "--json"]);
    expect(rb.code, rb.stderr).toBe(0);
    expect(rb.stderr).toContain(`store: restoring ${backupId}, taken before revision 2 deployed`);
    expect((await pr.get("api")).body).toBe("v1");
    expect(await items()).toEqual([
      { id: 1, name: "one" },
      { id: 2, name: "two" },
    ]);
    const h3 = pr.cli(["history", "development", "3", "--json"]);
    const r3 = h3.json<{ result: { revision: RevisionJson }[] }>().result[0].revision;
    expect(r3).toMatchObject({ version: "v1", status: "deployed" });
    expect(r3.facts.dataRollback?.revisions).toEqual([2]);
    // That backup holds the data as the rollback found it (what a rollback to 2 --with-db
    // brings back), not the data it restored.
    const all = pr.cli(["backups", "development", "--json"]).json<{ result: { backups: BackupJson[] } }>();
    const taken = all.result.backups.find((b) => b.id === r3.facts.backups?.store);
    const dump = spawnSync(join(pgBinDir(), "pg_restore"), ["-f", "-", taken!.location!], {
      encoding: "utf8",
    });
    expect(dump.status, dump.stderr).toBe(0);
    expect(dump.stdout).toMatch(/^1\tchanged$/m);
    expect(dump.stdout).toMatch(/^3\tthree$/m);

    // keepLast 1 would delete revision 2's backup (the rollback took a newer one), but revisions
    // 1 and 2 are still rollback targets (retain 3) and a --with-db rollback to 1 restores it.
    expect(r3.facts.backups?.store).toMatch(/^store-/);
    const pruned = pr.cli(["backups", "prune", "development", "--json"]);
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(
      pruned.json<{ result: { removed: { service: string; ids: string[] }[] } }>().result.removed,
    ).toEqual([
      { service: "store", ids: [] },
      { service: "_release", ids: [] },
    ]);
    const left = pr.cli(["backups", "development", "--json"]).json<{ result: { backups: BackupJson[] } }>();
    expect(left.result.backups.map((b) => b.id)).toContain(backupId);

    // A migration in a later layer runs after the first layer (api, store) switched; its failure
    // undoes that switch (docs/migrations.md): api serves v1 again, the data is untouched.
    writeFileSync(pr.file, readFileSync(pr.file, "utf8") + JOBS_SERVICE);
    const d4 = pr.cli(["deploy", "development", "--version", "v4"]);
    expect(d4.code, d4.stderr).toBe(1);
    expect(d4.stderr).toMatch(/jobs: migration failed \(exit 3\)/);
    const h4 = pr.cli(["history", "development", "4", "--json"]).json<{
      result: {
        revision: RevisionJson & { facts: { undo?: { service: string; ok: boolean }[] } };
        steps: { kind: string; service?: string; status: string; group?: number }[];
      }[];
    }>().result[0];
    expect(h4.revision.status).toBe("failed");
    expect(h4.steps.find((x) => x.kind === "rollout" && x.service === "api")?.status).toBe("ok");
    expect(h4.steps.find((x) => x.kind === "migrate" && x.service === "jobs")?.status).toBe("failed");
    expect(h4.revision.facts.undo?.find((u) => u.service === "api")).toMatchObject({ ok: true });
    expect((await pr.get("api")).body).toBe("v1");
    expect(await items()).toEqual([
      { id: 1, name: "one" },
      { id: 2, name: "two" },
    ]);
  }, 150_000);
});
