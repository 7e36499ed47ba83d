import { createHash, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import { ConfigError } from '@outbox-relay/runtime';
import type { RelayProcessEnv } from './config';

/** The settings that enable `POST /step-down`, named in the refusal when neither is set. */
export const ADMIN_TOKEN_SETTINGS = 'OUTBOX_ADMIN_TOKEN_FILE (or OUTBOX_ADMIN_TOKEN)';

const sha256 = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/**
 * The token the relay's admin endpoint (`POST /step-down`) requires. Only its SHA-256 digest is kept, so the token
 * cannot reach a log line or a heap dump through this object; requests are checked in constant time on equal-length
 * digests.
 */
export class AdminToken {
  private readonly digest: Buffer;

  constructor(token: string) {
    this.digest = sha256(token);
  }

  /** True when `authorization` is `Bearer <the token>` (the scheme in any case). */
  accepts(authorization: string | undefined): boolean {
    const match = /^bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!match) return false;
    return timingSafeEqual(sha256(match[1]!), this.digest);
  }

  toJSON(): string {
    return '[admin token]';
  }
}

/**
 * The admin token from OUTBOX_ADMIN_TOKEN_FILE (a mounted Secret, read once, surrounding white space trimmed) or
 * OUTBOX_ADMIN_TOKEN; undefined when neither is set. A file that cannot be read or holds nothing is a
 * ConfigError naming the setting (the process exits 2, as for any bad variable).
 */
export function readAdminToken(env: Pick<RelayProcessEnv, 'OUTBOX_ADMIN_TOKEN_FILE' | 'OUTBOX_ADMIN_TOKEN'>): AdminToken | undefined {
  if (env.OUTBOX_ADMIN_TOKEN !== undefined) return new AdminToken(env.OUTBOX_ADMIN_TOKEN);
  const file = env.OUTBOX_ADMIN_TOKEN_FILE;
  if (file === undefined) return undefined;
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new ConfigError([{ path: 'OUTBOX_ADMIN_TOKEN_FILE', message: `cannot read ${file} (${reason})` }]);
  }
  const token = text.trim();
  if (token === '') throw new ConfigError([{ path: 'OUTBOX_ADMIN_TOKEN_FILE', message: `${file} is empty` }]);
  if (/\s/.test(token)) throw new ConfigError([{ path: 'OUTBOX_ADMIN_TOKEN_FILE', message: `${file} holds white space inside the token` }]);
  return new AdminToken(token);
}
