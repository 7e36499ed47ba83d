import { canonicalMIMEHeaderKey, Match, MsgHdrsImpl } from '@nats-io/nats-core';

const LINE_BREAK = /[\r\n]/;
const STATUS_LINE = 'NATS/1.0';
/** Header names already found valid (the relay's own and the usual application ones); bounded, since rows can name anything. */
const checkedNames = new Set<string>();
const MAX_CHECKED_NAMES = 512;

/**
 * The NATS client's headers with a cheaper `set` for exact names, which is how the relay writes every header of
 * every message. The client's own `set` works for any matching mode, and to do so builds several arrays, a
 * canonical copy of the name and a regular expression per call: with a dozen headers per message it allocated
 * about 9 KB per published event, half of all the relay allocated (scripts/bench/alloc-profile.ts, BENCHMARKS.md).
 * Same checks, same errors (a name with a character NATS refuses, a value with CR or LF), same wire form: the
 * client encodes it like its own.
 */
export class MessageHeaders extends MsgHdrsImpl {
  override set(name: string, value: string, match: Match = Match.Exact): void {
    if (match !== Match.Exact) return super.set(name, value, match);
    if (!checkedNames.has(name)) {
      canonicalMIMEHeaderKey(name); // throws for a character a header name cannot hold
      if (checkedNames.size < MAX_CHECKED_NAMES) checkedNames.add(name);
    }
    // validHeaderValue throws the client's own error for a line break; otherwise it only trims.
    const checked = LINE_BREAK.test(value) ? MsgHdrsImpl.validHeaderValue(value) : value.trim();
    this.headers.delete(name);
    this.headers.set(name, [checked]);
  }

  /**
   * The wire form, written straight into one (pooled) buffer: the client's builds the block by string
   * concatenation, a copy per header, and then encodes it. Same bytes: `NATS/1.0`, then `\r\n<name>: <value>` per
   * value, then `\r\n\r\n`.
   */
  override encode(): Uint8Array {
    // A status line, or no headers at all: the client's own form.
    if (this._code !== 0 || this._description !== '' || this.headers.size === 0) return super.encode();
    // forEach, not for-of: a for-of over a Map makes an entry array per header.
    let length = STATUS_LINE.length + 4;
    this.headers.forEach((values, name) => {
      for (let i = 0; i < values.length; i++) length += 4 + name.length + Buffer.byteLength(values[i]!, 'utf8');
    });
    const block = Buffer.allocUnsafe(length);
    let at = block.write(STATUS_LINE, 0, 'latin1');
    this.headers.forEach((values, name) => {
      for (let i = 0; i < values.length; i++) {
        at += block.write('\r\n', at, 'latin1');
        at += block.write(name, at, 'latin1'); // printable ASCII only (checked in set)
        at += block.write(': ', at, 'latin1');
        at += block.write(values[i]!, at, 'utf8');
      }
    });
    block.write('\r\n\r\n', at, 'latin1');
    return block;
  }
}
