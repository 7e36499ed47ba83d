/**
 * Programs some tests run themselves (private servers, psql, kubectl): found where the tests look for them, and
 * where one is missing, named with how to get it (what `testNeeding` prints before skipping).
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findNatsServer, findOnPath, missingTools } from '@outbox-relay/test-support';

let dir: string;
const saved = { PATH: process.env.PATH, NATS_SERVER_BIN: process.env.NATS_SERVER_BIN, PG_BIN_DIR: process.env.PG_BIN_DIR };
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'tools-'));
});
afterEach(() => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  rmSync(dir, { recursive: true, force: true });
});

function tool(name: string, mode = 0o755): string {
  const file = path.join(dir, name);
  writeFileSync(file, '#!/bin/sh\nexit 0\n');
  chmodSync(file, mode);
  return file;
}

it('finds an executable on PATH, not a file that cannot run', () => {
  const kubectl = tool('kubectl');
  tool('psql', 0o644);
  expect(findOnPath('kubectl', `/nonexistent${path.delimiter}${dir}`)).toBe(kubectl);
  expect(findOnPath('psql', dir)).toBeNull();
});

it('names each missing program with how to get it', () => {
  process.env.PATH = dir;
  process.env.PG_BIN_DIR = dir;
  process.env.NATS_SERVER_BIN = path.join(dir, 'nats-server');
  expect(missingTools(['psql', 'kubectl', 'postgres-server', 'nats-server'])).toEqual([
    'psql: apt-get install postgresql-client',
    'kubectl: https://kubernetes.io/docs/tasks/tools/',
    'PostgreSQL server binaries (initdb, pg_ctl): apt-get install postgresql, or set PG_BIN_DIR',
    'nats-server: apt-get install nats-server, or set NATS_SERVER_BIN',
  ]);
  tool('psql');
  tool('initdb');
  tool('nats-server');
  expect(missingTools(['psql', 'kubectl', 'postgres-server', 'nats-server'])).toEqual(['kubectl: https://kubernetes.io/docs/tasks/tools/']);
});

it('NATS_SERVER_BIN decides alone when set: a path that cannot run is no nats-server, whatever else is installed', () => {
  process.env.NATS_SERVER_BIN = tool('nats-server', 0o644);
  expect(findNatsServer()).toBeNull();
  chmodSync(process.env.NATS_SERVER_BIN, 0o755);
  expect(findNatsServer()).toBe(process.env.NATS_SERVER_BIN);
});
