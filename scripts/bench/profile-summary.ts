// Summarizes V8 CPU profiles (`node --cpu-prof`, or `npm run bench -- --cpu-prof`): self time per area and the
// top functions. Usage: node -r ./test/support/register-ts.cjs scripts/bench/profile-summary.ts <file.cpuprofile>... [--top N]
import { summarizeProfile } from './lib/cpu-profile';

const args = process.argv.slice(2);
const topAt = args.indexOf('--top');
const top = topAt >= 0 ? Number(args.splice(topAt, 2)[1]) : 25;
if (args.length === 0 || !Number.isInteger(top) || top < 1) {
  process.stderr.write('usage: node -r ./test/support/register-ts.cjs scripts/bench/profile-summary.ts <file.cpuprofile>... [--top N]\n');
  process.exit(2);
}
for (const file of args) console.log(`${summarizeProfile(file, top)}\n`);
