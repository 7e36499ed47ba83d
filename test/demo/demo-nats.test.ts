/**
 * The demos' private NATS (scripts/lib/demo-servers.ts) when NATS_URL is not set: this machine's nats-server, else
 * a container, else a message with every way on. The container case runs on the container path of the suite
 * (`make test-containers`), where an engine is known to answer.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { findNatsServer, portAnswers, readTestServicesSettings, testNeeding, type EngineCheck } from '@outbox-relay/test-support';
import { DemoError } from '../../scripts/lib/demo-kit';
import { demoNatsSettings, startPrivateNats, type PrivateNats } from '../../scripts/lib/demo-servers';

const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'demo-nats-'));
afterAll(() => fs.rmSync(runDir, { recursive: true, force: true }));
const containers = readTestServicesSettings(process.env).OUTBOX_TEST_SERVICES === 'containers';
const withContainers = containers ? it : it.skip;

async function jetStreamAnswers(url: string): Promise<boolean> {
  const nc = await connect({ servers: url });
  try {
    return (await (await jetstreamManager(nc)).getAccountInfo()) !== undefined;
  } finally {
    await nc.close();
  }
}

it('DEMO_NATS and DEMO_NATS_IMAGE: auto and nats:2.10 by default; a bad value is named with those it takes', () => {
  expect(demoNatsSettings({ PATH: '/bin' })).toMatchObject({ source: 'auto', image: 'nats:2.10' });
  expect(demoNatsSettings({ DEMO_NATS: 'container', DEMO_NATS_IMAGE: 'nats:2.10-alpine' })).toMatchObject({ source: 'container', image: 'nats:2.10-alpine' });
  expect(() => demoNatsSettings({ DEMO_NATS: 'docker' })).toThrow(new DemoError('DEMO_NATS must be one of auto, binary, container (got "docker")'));
});

it('no nats-server and no engine: every way on, and why no container', async () => {
  const settings = { source: 'auto' as const, candidates: [path.join(runDir, 'none')], image: 'nats:2.10' };
  const noEngine = async (): Promise<EngineCheck> => ({ ok: false, reason: 'no Docker-compatible engine answers (DOCKER_HOST is not set)' });
  const failure = startPrivateNats(runDir, settings, noEngine);
  await expect(failure).rejects.toThrow(DemoError);
  await expect(failure).rejects.toThrow(
    /^NATS_URL is not set, no nats-server binary was found on PATH, and no container can be started: no Docker-compatible engine answers \(DOCKER_HOST is not set\)\.\n {2}Install it: {2}apt-get install nats-server/,
  );
  await expect(failure).rejects.toThrow(/podman-setup\.sh[\s\S]*so the demo runs NATS in a container \(DEMO_NATS_IMAGE, default nats:2\.10\)[\s\S]*NATS_URL=nats:\/\/127\.0\.0\.1:4222 make demo/);
});

it('DEMO_NATS=binary without a binary fails at once, without asking for an engine', async () => {
  let asked = false;
  const engine = async (): Promise<EngineCheck> => ((asked = true), { ok: true, description: 'unused' });
  await expect(startPrivateNats(runDir, { source: 'binary', candidates: [], image: 'nats:2.10' }, engine)).rejects.toThrow(/^DEMO_NATS=binary, and no nats-server binary was found/);
  expect(asked).toBe(false);
});

testNeeding('nats-server')("with a nats-server here it is used (JetStream on), never a container, and stop removes it", async () => {
  let asked = false;
  const engine = async (): Promise<EngineCheck> => ((asked = true), { ok: true, description: 'unused' });
  const nats: PrivateNats = await startPrivateNats(runDir, { source: 'auto', candidates: [findNatsServer()!], image: 'nats:2.10' }, engine);
  try {
    expect(nats.description).toMatch(/ -js on 127\.0\.0\.1:\d+ \(.*nats-server\)$/);
    expect(await jetStreamAnswers(nats.url)).toBe(true);
    expect(asked).toBe(false);
  } finally {
    await nats.stop();
  }
  expect(await portAnswers(nats.port)).toBe(false);
});

withContainers('DEMO_NATS=container: a NATS container with JetStream, removed by stop', async () => {
  const nats = await startPrivateNats(runDir, demoNatsSettings({ DEMO_NATS: 'container', DEMO_NATS_IMAGE: process.env.OUTBOX_TEST_NATS_IMAGE }));
  try {
    expect(nats.description).toMatch(/^nats:[\w.-]+ in container [0-9a-f]{12} /);
    expect(await jetStreamAnswers(nats.url)).toBe(true);
  } finally {
    await nats.stop();
  }
  const { getContainerRuntimeClient } = await import('testcontainers');
  const id = /in container ([0-9a-f]{12})/.exec(nats.description)![1]!;
  const all = await (await getContainerRuntimeClient()).container.dockerode.listContainers({ all: true });
  const left = all.filter((c) => c.Id.startsWith(id));
  expect(left).toEqual([]);
});
