import fs from 'node:fs';

/** One instruction of a Dockerfile, continuation lines joined. */
export interface Instruction {
  keyword: string;
  /** Everything after the keyword. */
  text: string;
  /** --flag=value options (COPY --from, --chown...). */
  flags: Record<string, string>;
  /** The remaining words, or the JSON array of the exec form. */
  args: string[];
  line: number;
}

export interface Stage {
  name: string;
  base: string;
  workdir: string;
  instructions: Instruction[];
}

export interface Dockerfile {
  /** ARG defaults declared before the first FROM. */
  globalArgs: Record<string, string>;
  stages: Stage[];
}

function words(text: string): string[] {
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) return JSON.parse(trimmed) as string[];
  return trimmed.split(/\s+/).filter(Boolean);
}

function splitFlags(text: string): { flags: Record<string, string>; rest: string } {
  const flags: Record<string, string> = {};
  let rest = text.trim();
  for (let m = /^--([a-z-]+)(?:=(\S+))?\s+/.exec(rest); m; m = /^--([a-z-]+)(?:=(\S+))?\s+/.exec(rest)) {
    flags[m[1]!] = m[2] ?? 'true';
    rest = rest.slice(m[0].length);
  }
  return { flags, rest };
}

/** Parses the subset of Dockerfile syntax this repository uses (no heredocs, default escape character). */
export function parseDockerfile(file: string): Dockerfile {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const instructions: Instruction[] = [];
  let buffer = '';
  let startLine = 0;
  lines.forEach((raw, index) => {
    const line = raw.trimEnd();
    if (!buffer && (line.trim() === '' || line.trim().startsWith('#'))) return;
    if (buffer && line.trim().startsWith('#')) return; // comments inside a continued instruction
    if (!buffer) startLine = index + 1;
    if (line.endsWith('\\')) {
      buffer += `${line.slice(0, -1)} `;
      return;
    }
    buffer += line;
    const match = /^\s*([A-Za-z]+)\s+([\s\S]*)$/.exec(buffer);
    if (!match) throw new Error(`Dockerfile line ${startLine}: cannot parse "${buffer}"`);
    const keyword = match[1]!.toUpperCase();
    const { flags, rest } = ['COPY', 'ADD', 'RUN', 'FROM', 'HEALTHCHECK'].includes(keyword) ? splitFlags(match[2]!) : { flags: {}, rest: match[2]! };
    instructions.push({ keyword, text: rest, flags, args: keyword === 'HEALTHCHECK' || keyword === 'RUN' ? [] : words(rest), line: startLine });
    buffer = '';
  });

  const globalArgs: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const [base, as, name] = instruction.args;
      const resolved = base!.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string, b: string) => globalArgs[a ?? b] ?? '');
      // A stage built FROM an earlier stage starts in that stage's WORKDIR.
      const parent = stages.find((s) => s.name === resolved);
      stages.push({
        name: as?.toUpperCase() === 'AS' && name ? name : String(stages.length),
        base: resolved,
        workdir: parent?.workdir ?? '/',
        instructions: [],
      });
      continue;
    }
    const stage = stages.at(-1);
    if (!stage) {
      if (instruction.keyword === 'ARG') {
        const [name, value] = instruction.args[0]!.split('=');
        globalArgs[name!] = value ?? '';
      }
      continue;
    }
    if (instruction.keyword === 'WORKDIR') {
      const dir = instruction.args[0]!;
      stage.workdir = dir.startsWith('/') ? dir : `${stage.workdir.replace(/\/$/, '')}/${dir}`;
    }
    stage.instructions.push({ ...instruction, flags: { ...instruction.flags, workdir: stage.workdir } });
  }
  return { globalArgs, stages };
}

/** COPY instructions of a stage: sources, destination (absolute, against the stage's WORKDIR at that point). */
export interface Copy {
  from?: string;
  sources: string[];
  destination: string;
  line: number;
}

export function copiesOf(stage: Stage): Copy[] {
  return stage.instructions
    .filter((i) => i.keyword === 'COPY')
    .map((i) => {
      const parts = [...i.args];
      const destination = parts.pop()!;
      const workdir = i.flags.workdir ?? '/';
      const absolute = destination.startsWith('/') ? destination : `${workdir.replace(/\/$/, '')}/${destination}`;
      return { ...(i.flags.from ? { from: i.flags.from } : {}), sources: parts, destination: absolute, line: i.line };
    });
}

/**
 * The build context's .dockerignore, as Docker applies it: each pattern (Go filepath.Match syntax plus `**`) is
 * matched against the path and each of its parent directories; the last matching pattern decides, `!` re-includes.
 */
export function dockerignore(file: string): (relativePath: string) => boolean {
  const rules = fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const include = l.startsWith('!');
      const pattern = (include ? l.slice(1) : l).replace(/^\/+/, '').replace(/\/+$/, '');
      const source = pattern
        .split('/')
        .map((part) => (part === '**' ? '.*' : part.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')))
        .join('/')
        .replace(/\.\*\//g, '(?:.*/)?');
      return { include, regex: new RegExp(`^${source}$`) };
    });
  return (relativePath) => {
    const parts = relativePath.replace(/^\.\//, '').split('/');
    const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let excluded = false;
    for (const rule of rules) {
      if (candidates.some((c) => rule.regex.test(c))) excluded = !rule.include;
    }
    return excluded;
  };
}
