import { ConfigError, parseEnv, relayEnvSchema, relaySettingsFromEnv } from '@outbox-relay/outbox';

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

  it('refuses a renewal slower than half the lease and a missing DATABASE_URL', () => {
    expect(variablesOf({ DATABASE_URL, OUTBOX_RENEW_MS: '1500' })).toEqual(['OUTBOX_RENEW_MS']);
    expect(variablesOf({})).toEqual(['DATABASE_URL']);
  });
});
