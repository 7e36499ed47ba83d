import type { Pool } from 'pg';
import { PostgresPrimary } from '@outbox-relay/outbox';
import { readConfig, type CliConfig, type Environment, type GlobalFlags } from './config';
import { notMigratedError, tablesOf } from './data/tables';
import type { ExitCode } from './errors';

/** Anything with write(): process.stdout/stderr in the binary, string collectors in tests. */
export interface Writer {
  write(text: string): unknown;
}

export interface CliIo {
  stdout: Writer;
  stderr: Writer;
  /** Where DATABASE_URL, OUTBOX_SCHEMA and INBOX_SCHEMA come from; process.env in the binary. */
  env?: Environment;
}

/**
 * What a command needs from the outside world. Configuration is read once, on first use, so `--help` and
 * usage errors never require a database URL.
 */
export class CommandContext {
  private cached: CliConfig | null = null;

  constructor(
    private readonly io: CliIo,
    private readonly flags: () => GlobalFlags,
  ) {}

  out(text: string): void {
    this.io.stdout.write(text);
  }

  err(text: string): void {
    this.io.stderr.write(text);
  }

  config(): CliConfig {
    this.cached ??= readConfig(this.flags(), this.io.env ?? {});
    return this.cached;
  }

  /**
   * Runs `work` with a small pool that is always closed afterwards, so the process can exit. An error that says
   * the schemas are not migrated names the command that migrates the ones this run was given.
   */
  async withPool(work: (pool: Pool, config: CliConfig) => Promise<ExitCode>): Promise<ExitCode> {
    const config = this.config();
    // Replays and step-downs write: only the primary of DATABASE_URL's host list will do.
    const pool = PostgresPrimary.fromUrl(config.databaseUrl).pool({ max: 2, connectionTimeoutMillis: 10_000 });
    // An idle client dying (e.g. Postgres restarting) must not crash the CLI with an unhandled 'error' event.
    pool.on('error', () => undefined);
    try {
      return await work(pool, config);
    } catch (error) {
      throw notMigratedError(error, tablesOf(config)) ?? error;
    } finally {
      await pool.end();
    }
  }
}
