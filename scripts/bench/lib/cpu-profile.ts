// Summary of a V8 CPU profile (`node --cpu-prof`): self time per area (package, Node internals, V8) and the top
// functions, with the callers of socket writes split out (on loopback they carry the receiver's TCP work too).
import { readFileSync } from 'node:fs';

/** The parts of a .cpuprofile file (Chrome DevTools protocol's Profile) read here. */
interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }>;
  samples: number[];
  timeDeltas: number[];
}

function areaOf(url: string, name: string): string {
  if (name === '(idle)' || name === '(program)' || name === '(garbage collector)') return name;
  if (!url) return '(native / V8 builtins)';
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  const service = /services\/([^/]+)\//.exec(url);
  if (service) return `@outbox-relay/${service[1]}`;
  return url;
}

const shortUrl = (url: string) => url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/services\//, 'services/');

const add = (map: Map<string, number>, key: string, us: number) => map.set(key, (map.get(key) ?? 0) + us);

export function summarizeProfile(file: string, top = 25): string {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));

  const byArea = new Map<string, number>();
  const byFunction = new Map<string, number>();
  const writes = new Map<string, number>();
  let total = 0;
  for (const node of profile.nodes) {
    const us = selfUs.get(node.id) ?? 0;
    if (us === 0) continue;
    total += us;
    const { functionName, url, lineNumber } = node.callFrame;
    const name = functionName || '(anonymous)';
    add(byArea, areaOf(url, name), us);
    add(byFunction, `${name}  ${url ? `${shortUrl(url)}:${lineNumber + 1}` : ''}`, us);
    if (name === 'writev' || name === 'writeBuffer') {
      // Who wrote: the nearest caller in a package or in Node's http code.
      let owner = '(unknown)';
      for (let id = parentOf.get(node.id), depth = 0; id !== undefined && depth < 40; id = parentOf.get(id), depth++) {
        const frame = byId.get(id)!.callFrame;
        if (/node_modules\//.test(frame.url) || /^node:_http_/.test(frame.url)) {
          owner = `${shortUrl(frame.url).replace(/^node:/, '')} ${frame.functionName}`;
          break;
        }
      }
      add(writes, owner, us);
    }
  }
  const busy = total - (byArea.get('(idle)') ?? 0);
  const pct = (us: number) => `${((100 * us) / busy).toFixed(1).padStart(5)} %`;
  const sorted = (map: Map<string, number>) => [...map].sort((a, b) => b[1] - a[1]);
  const lines = [`${file}: ${(total / 1e6).toFixed(2)} s sampled, busy ${(busy / 1e6).toFixed(2)} s; shares are of busy time`];
  lines.push('self time by area:');
  for (const [name, us] of sorted(byArea).slice(0, 15)) if (name !== '(idle)') lines.push(`  ${pct(us)}  ${name}`);
  if (writes.size > 0) {
    lines.push('socket writes (writev/writeBuffer) by caller:');
    for (const [name, us] of sorted(writes).slice(0, 6)) lines.push(`  ${pct(us)}  ${name}`);
  }
  lines.push(`top ${top} functions by self time:`);
  for (const [name, us] of sorted(byFunction).filter(([n]) => !n.startsWith('(idle)')).slice(0, top)) lines.push(`  ${pct(us)}  ${name}`);
  return lines.join('\n');
}
