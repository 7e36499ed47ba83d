/**
 * outbox_relay_build_info (the build step's version and git revision, the running Node.js) and /metrics content
 * negotiation on a real HTTP server: OpenMetrics for a scraper that asks for it, the classic text format otherwise,
 * and neither leaking into the other (prom-client renames counters in place to write OpenMetrics).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { addProbeRoutes, ServiceHttp } from '@outbox-relay/runtime';
import { quietLogger } from '@outbox-relay/test-support';
import { Counter, prefersOpenMetrics, readBuildInfo, ServiceMetrics } from '@outbox-relay/telemetry';
import { parseMetrics, valueOf } from './support/scrape';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const WRITER = path.join(ROOT, 'services', 'telemetry', 'write-build-info.cjs');
const rootVersion = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const dir = mkdtempSync(path.join(os.tmpdir(), 'build-info-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the build step into `file` with `env` (and nothing else: no PATH means no git). */
function writeBuildInfo(file: string, env: Record<string, string>): void {
  execFileSync(process.execPath, [WRITER, file], { env, stdio: 'pipe' });
}

describe('outbox_relay_build_info', () => {
  it('reports the revision the build step found: GIT_REVISION, else git, else unknown', () => {
    writeBuildInfo(path.join(dir, 'given.json'), { GIT_REVISION: 'abc1234' });
    expect(readBuildInfo(path.join(dir, 'given.json'))).toEqual({ version: rootVersion, revision: 'abc1234', nodeVersion: process.version });

    writeBuildInfo(path.join(dir, 'git.json'), { PATH: process.env.PATH ?? '' });
    const head = execFileSync('git', ['-C', ROOT, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
    expect(readBuildInfo(path.join(dir, 'git.json')).revision).toBe(head);

    writeBuildInfo(path.join(dir, 'nogit.json'), { PATH: '' });
    expect(readBuildInfo(path.join(dir, 'nogit.json')).revision).toBe('unknown');
  });

  it('without the build step: the package version and revision unknown', () => {
    const telemetryVersion = (JSON.parse(readFileSync(path.join(ROOT, 'services', 'telemetry', 'package.json'), 'utf8')) as { version: string }).version;
    expect(readBuildInfo(path.join(dir, 'missing.json'))).toEqual({ version: telemetryVersion, revision: 'unknown', nodeVersion: process.version });
  });

  it('is a gauge of 1 in every ServiceMetrics, labelled with version, revision and Node.js version', async () => {
    const metrics = new ServiceMetrics({ defaultMetrics: false, buildInfo: { version: '9.8.7', revision: 'deadbeef', nodeVersion: 'v26.1.0' } });
    const samples = parseMetrics(await metrics.text());
    expect(samples.filter((s) => s.name === 'outbox_relay_build_info')).toEqual([
      { name: 'outbox_relay_build_info', labels: { version: '9.8.7', revision: 'deadbeef', nodejs_version: 'v26.1.0' }, value: 1 },
    ]);
    // Built without options, it reads the build's own file (or falls back): always one sample, Node's version.
    const own = parseMetrics(await new ServiceMetrics({ defaultMetrics: false }).text());
    expect(valueOf(own, 'outbox_relay_build_info', { nodejs_version: process.version })).toBe(1);
  });
});

describe('/metrics content negotiation', () => {
  const PROMETHEUS_ACCEPT = 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
  let http: ServiceHttp;
  let base: string;

  beforeAll(async () => {
    const metrics = new ServiceMetrics({ defaultMetrics: false, buildInfo: { version: '1.2.3', revision: 'cafe', nodeVersion: 'v26.0.0' } });
    new Counter({ name: 'exposition_test_events_total', help: 'Events.', registers: [metrics.registry] }).inc(3);
    http = new ServiceHttp({ logger: quietLogger });
    addProbeRoutes(http, { readiness: () => ({ ready: true }), metrics });
    base = `http://127.0.0.1:${await http.listen(0, '127.0.0.1')}`;
  });
  afterAll(() => http.close(1000));

  const scrape = async (accept?: string) => {
    const res = await fetch(`${base}/metrics`, accept === undefined ? {} : { headers: { accept } });
    expect(res.status).toBe(200);
    return { contentType: res.headers.get('content-type'), vary: res.headers.get('vary'), text: await res.text() };
  };

  it('answers OpenMetrics to a scraper that asks for it, the classic format otherwise, and neither changes the other', async () => {
    const before = await scrape();
    expect(before.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(before.vary).toBe('Accept');
    expect(before.text).toContain('# TYPE exposition_test_events_total counter\nexposition_test_events_total 3');
    expect(before.text).not.toContain('# EOF');

    const open = await scrape(PROMETHEUS_ACCEPT);
    expect(open.contentType).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
    // OpenMetrics: the counter's family name without _total, its sample with it, and the closing # EOF.
    expect(open.text).toContain('# TYPE exposition_test_events counter\nexposition_test_events_total 3');
    expect(open.text).toContain('outbox_relay_build_info{version="1.2.3",revision="cafe",nodejs_version="v26.0.0"} 1');
    expect(open.text.endsWith('# EOF\n')).toBe(true);

    // The classic exposition is unchanged after an OpenMetrics one, also when both are asked at once.
    const [classic, again] = await Promise.all([scrape('text/plain'), scrape('application/openmetrics-text')]);
    expect(classic.text).toBe(before.text);
    expect(again.text).toBe(open.text);
  });

  it.each([
    [undefined, false],
    ['*/*', false],
    ['text/plain;version=0.0.4', false],
    ['application/openmetrics-text', true],
    ['application/openmetrics-text;q=0.5,text/plain', false],
    ['text/plain;q=0.3, application/openmetrics-text;version=1.0.0;q=0.9', true],
    ['application/openmetrics-text;q=0', false],
  ])('Accept %j prefers OpenMetrics: %s', (accept, expected) => {
    expect(prefersOpenMetrics(accept)).toBe(expected);
  });
});
