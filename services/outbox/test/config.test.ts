import { defaultRelaySettings, OutboxRelay, relayEnvSchema, relaySettingsFromEnv, type RelaySettings } from '@outbox-relay/outbox';
import { ConfigError, parseEnv } from '@outbox-relay/runtime';
import { Pool } from 'pg';
import { quietLogger } from '@outbox-relay/test-support';

const DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';

function variablesOf(env: Record<string, string>): string[] {
  try {
    parseEnv(relayEnvSchema, env);
  } catch (error) {
    if (error instanceof ConfigError) return error.variables;
    throw error;
  }
  return [];
}

describe('relay configuration', () => {
  it('accepts the defaults and maps them to settings', () => {
    const settings = relaySettingsFromEnv(parseEnv(relayEnvSchema, { DATABASE_URL }));
    expect(settings).toMatchObject({ schema: 'outbox', stream: 'OUTBOX', leaseMs: 2000, renewMs: 500, duplicateWindowMs: 120_000 });
  });

  it('refuses a duplicate window shorter than 10 leases, naming the variable', () => {
    expect(variablesOf({ DATABASE_URL, OUTBOX_LEASE_MS: '5000', OUTBOX_DUPLICATE_WINDOW_MS: '30000' })).toEqual([
      'OUTBOX_DUPLICATE_WINDOW_MS',
    ]);
  });

  it('reads the header mode and the CloudEvents source; the mode stays outbox and the source unset by default', () => {
    expect(relaySettingsFromEnv(parseEnv(relayEnvSchema, { DATABASE_URL }))).toMatchObject({ messageHeaders: 'outbox', cloudEventsSource: undefined });
    const settings = relaySettingsFromEnv(
      parseEnv(relayEnvSchema, { DATABASE_URL, OUTBOX_MESSAGE_HEADERS: 'cloudevents', OUTBOX_CLOUDEVENTS_SOURCE: 'https://example.com/orders' }),
    );
    expect(settings).toMatchObject({ messageHeaders: 'cloudevents', cloudEventsSource: 'https://example.com/orders' });
  });

  it('refuses a header mode or a CloudEvents source it does not know, in plain words naming the variable', () => {
    const messages = (env: Record<string, string>) => {
      try {
        parseEnv(relayEnvSchema, { DATABASE_URL, ...env });
      } catch (error) {
        if (error instanceof ConfigError) return error.issues.map((i) => `${i.path}: ${i.message}`);
        throw error;
      }
      return [];
    };
    expect(messages({ OUTBOX_MESSAGE_HEADERS: 'ce' })).toEqual(['OUTBOX_MESSAGE_HEADERS: must be one of outbox, cloudevents, both (got "ce")']);
    expect(messages({ OUTBOX_MESSAGE_HEADERS: 'CloudEvents' })).toEqual(['OUTBOX_MESSAGE_HEADERS: must be one of outbox, cloudevents, both (got "CloudEvents")']);
    for (const source of ['my source', '/orders/%zz', '/caf\u00e9']) {
      expect(messages({ OUTBOX_CLOUDEVENTS_SOURCE: source })).toEqual([
        expect.stringMatching(/^OUTBOX_CLOUDEVENTS_SOURCE: must be a URI-reference \(RFC 3986\)/),
      ]);
    }
  });

  it('reads the standbys that must confirm a commit before it is published: none by default, 0 to 16', () => {
    expect(relaySettingsFromEnv(parseEnv(relayEnvSchema, { DATABASE_URL })).confirmingStandbys).toBe(0);
    expect(relaySettingsFromEnv(parseEnv(relayEnvSchema, { DATABASE_URL, OUTBOX_CONFIRMING_STANDBYS: '2' })).confirmingStandbys).toBe(2);
    for (const bad of ['-1', '17', 'one', '1.5']) expect(variablesOf({ DATABASE_URL, OUTBOX_CONFIRMING_STANDBYS: bad })).toEqual(['OUTBOX_CONFIRMING_STANDBYS']);
    expect(() => defaultRelaySettings({ confirmingStandbys: -1 })).toThrow(/confirmingStandbys/);
  });

  it('reads the bound in bytes of one read: 4 MiB by default, 1 KiB to 1 GiB', () => {
    expect(relaySettingsFromEnv(parseEnv(relayEnvSchema, { DATABASE_URL })).batchMaxBytes).toBe(4 * 1024 * 1024);
    expect(relaySettingsFromEnv(parseEnv(relayEnvSchema, { DATABASE_URL, OUTBOX_BATCH_MAX_BYTES: '65536' })).batchMaxBytes).toBe(65_536);
    for (const bad of ['1023', String(1024 ** 3 + 1), '1.5', 'lots']) expect(variablesOf({ DATABASE_URL, OUTBOX_BATCH_MAX_BYTES: bad })).toEqual(['OUTBOX_BATCH_MAX_BYTES']);
    expect(() => defaultRelaySettings({ batchMaxBytes: 10 })).toThrow(/batchMaxBytes/);
  });

  it('takes a host list as DATABASE_URL, and refuses one it cannot use, naming the variable', () => {
    expect(variablesOf({ DATABASE_URL: 'postgres://u@db-a:5432,db-b:5433/app?target_session_attrs=read-write' })).toEqual([]);
    expect(variablesOf({ DATABASE_URL: 'postgres://u@db-a:5432,db-b:x/app' })).toEqual(['DATABASE_URL']);
    expect(variablesOf({ DATABASE_URL: 'postgres://u@db-a/app?target_session_attrs=standby' })).toEqual(['DATABASE_URL']);
  });

  it('refuses a renewal slower than half the lease and a missing DATABASE_URL', () => {
    expect(variablesOf({ DATABASE_URL, OUTBOX_RENEW_MS: '1500' })).toEqual(['OUTBOX_RENEW_MS']);
    expect(variablesOf({})).toEqual(['DATABASE_URL']);
  });
});

describe('relay settings built in code get the same checks (issue 13, case 9)', () => {
  const settingsOf = (run: () => unknown): string[] => {
    try {
      run();
    } catch (error) {
      if (error instanceof ConfigError) return error.variables;
      throw error;
    }
    return [];
  };

  it('defaultRelaySettings refuses a lease whose re-publishes the default window cannot cover, naming the setting', () => {
    expect(settingsOf(() => defaultRelaySettings({ leaseMs: 60_000, renewMs: 20_000 }))).toEqual(['duplicateWindowMs']);
    expect(settingsOf(() => defaultRelaySettings({ leaseMs: 60_000, renewMs: 20_000, duplicateWindowMs: 600_000 }))).toEqual([]);
  });

  it('refuses an unknown header mode and a source that is no URI-reference, naming the settings', () => {
    expect(settingsOf(() => defaultRelaySettings({ messageHeaders: 'ce' as never, cloudEventsSource: 'not a uri' })).sort()).toEqual([
      'cloudEventsSource',
      'messageHeaders',
    ]);
  });

  it('refuses out-of-range values and slow renewals, every one at once', () => {
    expect(settingsOf(() => defaultRelaySettings({ batchSize: 0, renewMs: 1500, subjectPrefix: 'a.>', backoffMinMs: 20_000 })).sort()).toEqual(
      ['backoffMinMs', 'batchSize', 'renewMs', 'subjectPrefix'],
    );
  });

  it('the relay checks settings it is handed directly, before touching anything', () => {
    const pool = new Pool({ max: 1 });
    const handBuilt: RelaySettings = { ...defaultRelaySettings(), leaseMs: 60_000, renewMs: 10_000 };
    try {
      expect(settingsOf(() => new OutboxRelay({ pool, nats: {} as never, logger: quietLogger }, handBuilt))).toEqual(['duplicateWindowMs']);
      expect(pool.totalCount).toBe(0);
    } finally {
      void pool.end();
    }
  });
});
