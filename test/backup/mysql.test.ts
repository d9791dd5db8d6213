import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { DumpRowCounter, mysqlProvider, optionFileValue } from "../../src/backup/mysql.js";
import { runBackupProviderConformance } from "../../src/backup/provider.case.js";
import { startMariaDb } from "../support/mariadb.js";
import type { MariaDbServer } from "../support/mariadb.js";
import { harness } from "./helpers.js";
import type { Harness } from "./helpers.js";

let server: MariaDbServer;
let h: Harness;
let url: string;

const snapshot = () =>
  server.sql("SELECT * FROM customers ORDER BY id; SELECT * FROM orders ORDER BY id; SHOW TABLES", "shop");

beforeAll(async () => {
  server = await startMariaDb();
  url = `${server.url}shop`;
  server.sql(`
    CREATE DATABASE shop;
    USE shop;
    CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(100), note TEXT, photo BLOB) ENGINE=InnoDB;
    CREATE TABLE orders (id INT AUTO_INCREMENT PRIMARY KEY, customer INT, total DECIMAL(10,2)) ENGINE=InnoDB;
    CREATE TABLE empty_one (id INT PRIMARY KEY);
    CREATE VIEW big_orders AS SELECT * FROM orders WHERE total > 100;
    INSERT INTO customers VALUES
      (1, 'O''Brien', 'paren ( inside ), comma, and \\\\ backslash', 0x00FF28),
      (2, 'semi;colon', 'quote '' and \\' escaped', NULL),
      (3, 'multi\\nline', '(1),(2),(3)', 0x29);
    INSERT INTO orders (customer, total) SELECT 1 + (seq % 3), seq / 7 FROM seq_1_to_3000;
    CREATE DATABASE plain;
    USE plain;
    CREATE TABLE parent (id INT PRIMARY KEY, name VARCHAR(50)) ENGINE=InnoDB;
    CREATE TABLE child (id INT PRIMARY KEY, parent INT, FOREIGN KEY (parent) REFERENCES parent(id)) ENGINE=InnoDB;
    INSERT INTO parent SELECT seq, CONCAT('p', seq) FROM seq_1_to_50;
    INSERT INTO child SELECT seq, 1 + (seq % 50) FROM seq_1_to_500;
  `);
  h = harness();
});

afterAll(async () => {
  h?.close();
  await server?.stop();
});

describe("mariadb backups (real MariaDB server)", () => {
  let id: string;

  test("backup → change data → restore → data equal", async () => {
    const before = snapshot();
    const rec = await h.manager.backup({
      project: "shop",
      env: "prod",
      service: "db",
      config: { type: "mariadb", url },
    });
    id = rec.id;
    expect(rec.status).toBe("ok");
    expect(rec.type).toBe("mysql");
    expect(rec.facts.tables).toEqual({ customers: 3, orders: 3000, empty_one: 0 });

    server.sql(
      "UPDATE customers SET name = 'changed'; DELETE FROM orders WHERE id > 10; DROP VIEW big_orders",
      "shop",
    );
    expect(snapshot()).not.toBe(before);

    await h.manager.restore(id, { config: { type: "mysql", url } });
    expect(snapshot()).toBe(before);
  });

  test("the password never reaches the records or the logs", async () => {
    const rec = (await h.manager.get(id))!;
    expect(JSON.stringify(rec)).not.toContain(server.password);
    expect(rec.source).toContain("mysql://root:***@127.0.0.1");
    expect(rec.config.url).toBe(`mysql://root@127.0.0.1:${server.port}/shop`);
    expect(h.logged.join("\n")).not.toContain(server.password);
  });

  test("verify loads the dump into a scratch database and compares row counts", async () => {
    const rec = await h.manager.verify(id, { config: { type: "mysql", url } });
    expect(rec.verifyDetail).toMatch(/3 tables, 3003 rows match/);
    expect(rec.status).toBe("verified");
    expect(server.sql("SHOW DATABASES LIKE 'slipway_verify_%'")).toBe("");
  });

  test("a wrong password fails the backup with a message naming the server, not the password", async () => {
    const bad = `mysql://root:not-the-pw-123@127.0.0.1:${server.port}/shop`;
    const err = (await h.manager
      .backup({ project: "shop", env: "prod", service: "db", config: { type: "mysql", url: bad } })
      .catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(/Access denied/);
    expect(err.message).not.toContain("not-the-pw-123");
  });

  test("a password with a newline, quotes, backslashes and # reaches the server intact (escaped option file)", async () => {
    // Written raw, the newline would end the option line and `host=…` would become an option.
    const password = `a"b\\c\n#host=192.0.2.1 'd'\te\rf\bg `;
    const sqlString = password.replace(
      /[\\'\n\r\t\b]/g,
      (c) => ({ "\\": "\\\\", "'": "\\'", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b" })[c] as string,
    );
    server.sql(`CREATE USER 'tricky'@'%' IDENTIFIED BY '${sqlString}'; GRANT ALL ON shop.* TO 'tricky'@'%'`);
    const tricky = `mysql://tricky:${encodeURIComponent(password)}@127.0.0.1:${server.port}/shop`;
    const rec = await h.manager.backup({
      project: "shop",
      env: "prod",
      service: "db",
      config: { type: "mysql", url: tricky },
    });
    expect(rec.status).toBe("ok");
    expect(rec.facts.tables).toMatchObject({ customers: 3 });
    expect(optionFileValue(password)).toBe(`"a\\"b\\\\c\\n#host=192.0.2.1 'd'\\te\\rf\\bg "`);
    expect(optionFileValue(password)).not.toContain("\n");
  });
});

describe("DumpRowCounter", () => {
  async function count(text: string, chunk: number): Promise<Record<string, number>> {
    const c = new DumpRowCounter();
    const parts: string[] = [];
    for (let i = 0; i < text.length; i += chunk) parts.push(text.slice(i, i + chunk));
    await pipeline(
      Readable.from(parts.map((p) => Buffer.from(p))),
      c,
      new Writable({ write: (_c, _e, cb) => cb() }),
    );
    return c.tables;
  }
  const dump = [
    "-- comment (1),(2)",
    "CREATE TABLE `a``b` (",
    "  `id` int",
    ") ENGINE=InnoDB;",
    "CREATE TABLE `t` (",
    ") ENGINE=InnoDB;",
    "/*!50001 CREATE TABLE `some_view` (",
    "INSERT INTO `t` VALUES (1,'x(y),(z)'),(2,'it\\'s'),(3,'a\\\\'),(4,0x28),(5,'');",
    "INSERT INTO `t` VALUES (6,'semi;colon');",
    "INSERT INTO `t` VALUES",
    "(7,'new\\nline'),",
    "(8,'x');",
    "",
  ].join("\n");

  test.each([1, 3, 7, 4096])("counts tuples split across chunks of %i bytes", async (n) => {
    expect(await count(dump, n)).toEqual({ "a`b": 0, t: 8 });
  });
});

runBackupProviderConformance("mysql (MariaDB), with a view: loaded in place", () => ({
  inPlace: true,
  provider: mysqlProvider,
  config: { type: "mysql", url },
  snapshot: async () => snapshot(),
  mutate: async () => {
    server.sql(
      "UPDATE customers SET note = 'changed' WHERE id = 2; DELETE FROM orders WHERE id % 2 = 0",
      "shop",
    );
  },
}));

// Tables only (no view, trigger or routine): the restore is staged in a scratch schema and swapped
// in with one RENAME TABLE (the suite's "cut after the stage" and "undo a swap" cases).
runBackupProviderConformance("mysql (MariaDB), tables swapped atomically", () => ({
  provider: mysqlProvider,
  config: { type: "mysql", url: `${server.url}plain` },
  snapshot: async () =>
    server.sql("SELECT * FROM parent ORDER BY id; SELECT * FROM child ORDER BY id; SHOW TABLES", "plain"),
  mutate: async () => {
    server.sql(
      "UPDATE parent SET name = 'changed' WHERE id < 5; DELETE FROM child WHERE id % 2 = 0",
      "plain",
    );
  },
}));
