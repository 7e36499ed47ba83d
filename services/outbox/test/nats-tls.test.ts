/**
 * NATS_TLS_CA_FILE, NATS_TLS_CERT_FILE and NATS_TLS_KEY_FILE reach the connection: a private nats-server that
 * requires a client certificate (mutual TLS) accepts the relay's connection made from those variables alone, and
 * refuses one without the certificate.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { connectNats, ensureStream, natsConnectionFromEnv, relayEnvSchema } from '@outbox-relay/outbox';
import { parseEnv } from '@outbox-relay/runtime';
import { PrivateNatsServer } from '@outbox-relay/test-support';

const dir = mkdtempSync(path.join(os.tmpdir(), 'nats-tls-'));
const file = (name: string) => path.join(dir, name);
let server: PrivateNatsServer;

/**
 * A throw-away CA, a server certificate and a client certificate, all signed by that CA. The server's names both
 * 127.0.0.1 and localhost: the client checks the name localhost for a loopback address.
 */
function makeCertificates(): void {
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=outbox-test-ca');
  for (const [name, ext] of [['server', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth'], ['client', 'extendedKeyUsage=clientAuth']] as const) {
    writeFileSync(file(`${name}.ext`), `${ext}\n`);
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '1', '-extfile', `${name}.ext`);
  }
}

beforeAll(async () => {
  makeCertificates();
  server = await PrivateNatsServer.start(['--tls', '--tlscert', file('server.crt'), '--tlskey', file('server.key'), '--tlscacert', file('ca.crt'), '--tlsverify']);
});
afterAll(async () => {
  await server.destroy();
  rmSync(dir, { recursive: true, force: true });
});

it('connects with the TLS files named in the environment and uses JetStream', async () => {
  const env = parseEnv(relayEnvSchema, {
    DATABASE_URL: 'postgres://u@127.0.0.1/db',
    NATS_URL: `tls://127.0.0.1:${server.port}`,
    NATS_TLS_CA_FILE: file('ca.crt'),
    NATS_TLS_CERT_FILE: file('client.crt'),
    NATS_TLS_KEY_FILE: file('client.key'),
  });
  const nc = await connectNats({ ...natsConnectionFromEnv(env), name: 'tls-test' });
  try {
    expect(await ensureStream(await jetstreamManager(nc), { name: 'TLS_OUTBOX', subjectPrefix: 'tls', duplicateWindowMs: 120_000 })).toBe('created');
  } finally {
    await nc.close();
  }
});

it('is refused without the client certificate (the server really asks for one)', async () => {
  const attempt = connect({ servers: `tls://127.0.0.1:${server.port}`, tls: { caFile: file('ca.crt') }, reconnect: false, timeout: 3000 });
  await expect(attempt).rejects.toThrow();
});
