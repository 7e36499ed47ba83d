/**
 * libpq's multi-host URL, split into one URL per server (node-postgres reads only single-host URLs), and the
 * errors a person gets for one that cannot work: each names what is wrong and never echoes the password.
 */
import { Client } from 'pg';
import { DatabaseUrlError, outboxEnvShape, parseDatabaseTarget } from '@outbox-relay/outbox';

describe('parseDatabaseTarget', () => {
  it('splits a host list into single-host URLs that keep the user, password, database and parameters', () => {
    const target = parseDatabaseTarget('postgres://app:s%40cret@db-a:5433,db-b,[::1]:6432/orders?sslmode=disable&target_session_attrs=read-write');
    expect(target.hosts.map((h) => h.label)).toEqual(['db-a:5433', 'db-b:5432', '[::1]:6432']);
    expect(target.hosts.map((h) => h.connectionString)).toEqual([
      'postgres://app:s%40cret@db-a:5433/orders?sslmode=disable&target_session_attrs=read-write',
      'postgres://app:s%40cret@db-b/orders?sslmode=disable&target_session_attrs=read-write',
      'postgres://app:s%40cret@[::1]:6432/orders?sslmode=disable&target_session_attrs=read-write',
    ]);
    // Each one is a URL node-postgres reads, to the server it names.
    const second = new Client({ connectionString: target.hosts[1]!.connectionString });
    expect([second.host, second.port, second.user, second.password, second.database]).toEqual(['db-b', 5432, 'app', 's@cret', 'orders']);
    expect(target.requirement).toBe('read-write');
  });

  it('leaves a single-host URL as it was written, in any form node-postgres reads', () => {
    for (const url of ['postgres://u@localhost/db', 'postgresql:///db?host=/var/run/postgresql', 'postgres://u@h:5432/db?application_name=x']) {
      expect(parseDatabaseTarget(url).hosts.map((h) => h.connectionString)).toEqual([url]);
    }
  });

  it('requires a writable server unless the URL opts out, and takes connect_timeout per server', () => {
    expect(parseDatabaseTarget('postgres://h/db').requirement).toBe('read-write');
    expect(parseDatabaseTarget('postgres://h/db?target_session_attrs=primary').requirement).toBe('primary');
    expect(parseDatabaseTarget('postgres://h/db?target_session_attrs=any').requirement).toBe('any');
    expect(parseDatabaseTarget('postgres://h/db?connect_timeout=5').connectTimeoutMs).toBe(5000);
    // libpq: 0 is no limit, and 1 is raised to 2.
    expect(parseDatabaseTarget('postgres://h/db?connect_timeout=0').connectTimeoutMs).toBeUndefined();
    expect(parseDatabaseTarget('postgres://h/db?connect_timeout=1').connectTimeoutMs).toBe(2000);
  });

  it.each([
    ['mysql://u@h/db', /must be a postgres:\/\/ URL \(or postgresql:\/\/\)/],
    ['postgres://u:hunter2@h1:5432,h2:port/db', /host h2 with port "port": must be a number from 1 to 65535/],
    ['postgres://u:hunter2@h1:5432,h2:70000/db', /host h2 with port "70000"/],
    ['postgres://u:hunter2@h1,,h2/db', /an empty entry in its host list/],
    ['postgres://u:hunter2@h1/db?target_session_attrs=standby', /target_session_attrs=standby: must be one of read-write, primary, any/],
    ['postgres://u:hunter2@h1/db?connect_timeout=soon', /connect_timeout=soon: must be whole seconds/],
    ['postgres://u:hunter2@/db?host=h1,h2', /lists several hosts in \?host=/],
  ])('refuses %s with a DatabaseUrlError that says why and hides the password', (url, why) => {
    let error: unknown;
    try {
      parseDatabaseTarget(url);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DatabaseUrlError);
    expect((error as Error).message).toMatch(why);
    expect((error as Error).message).not.toContain('hunter2');
  });

  it('is how DATABASE_URL is validated: the issue says what is wrong', () => {
    const result = outboxEnvShape.DATABASE_URL.safeParse('postgres://u@h1:5432,h2:x/db');
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toMatch(/host h2 with port "x"/);
    expect(outboxEnvShape.DATABASE_URL.safeParse('postgres://u@h1:5432,h2:5433/db?target_session_attrs=read-write').success).toBe(true);
  });
});
