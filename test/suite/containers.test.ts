/**
 * The container path, seen from a test file (`make test-containers`, or OUTBOX_TEST_SERVICES=containers): the
 * URLs every file gets are those of the containers the global setup started, labelled as the run's, and those
 * servers are what the suite needs: a superuser in database `test`, JetStream on. Elsewhere this file is skipped.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Client } from 'pg';
import { CONTAINER_LABEL, readTestServicesSettings, TEST_DATABASE_URL, TEST_NATS_URL } from '@outbox-relay/test-support';

const containers = readTestServicesSettings(process.env).OUTBOX_TEST_SERVICES === 'containers';
if (!containers) process.stderr.write('test/suite/containers.test.ts: skipped, it runs with OUTBOX_TEST_SERVICES=containers (make test-containers)\n');
const withContainers = containers ? it : it.skip;

/** The running containers of this engine that carry the label, with the host ports they publish. */
async function labelled(service: string): Promise<Array<{ id: string; image: string; ports: number[] }>> {
  const { getContainerRuntimeClient } = await import('testcontainers');
  const client = await getContainerRuntimeClient();
  return (await client.container.list())
    .filter((c) => c.Labels?.[CONTAINER_LABEL] === service && c.State === 'running')
    .map((c) => ({ id: c.Id, image: c.Image, ports: (c.Ports ?? []).flatMap((p) => (p.PublicPort ? [p.PublicPort] : [])) }));
}

withContainers("DATABASE_URL is the run's one Postgres container: a superuser in database test, on the image's data directory", async () => {
  const port = Number(new URL(TEST_DATABASE_URL).port);
  const running = await labelled('postgres');
  expect(running.filter((c) => c.ports.includes(port))).toHaveLength(1);
  const client = new Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    const { rows } = await client.query(
      `SELECT current_user AS "user", current_database() AS database, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser,
              current_setting('data_directory') AS data, current_setting('server_version_num')::int >= 150000 AS pg15`,
    );
    expect(rows[0]).toEqual({ user: 'postgres', database: 'test', superuser: true, data: '/var/lib/postgresql/data', pg15: true });
  } finally {
    await client.end();
  }
});

withContainers("NATS_URL is the run's one NATS container, with JetStream on", async () => {
  const port = Number(new URL(TEST_NATS_URL).port);
  const running = await labelled('nats');
  expect(running.filter((c) => c.ports.includes(port))).toHaveLength(1);
  const nc = await connect({ servers: TEST_NATS_URL });
  try {
    const account = await (await jetstreamManager(nc)).getAccountInfo();
    expect(account.limits).toBeDefined();
    expect(nc.info?.jetstream).toBe(true);
  } finally {
    await nc.close();
  }
});
