import fs from 'node:fs';
import { createOrderRequestSchema } from '../../services/orders/src/domain/order';
import { renderChart } from './support/helm';
import { podTemplateOf, selects, type KubeObject } from './support/kube-objects';
import { readManifests, validateObject } from './support/kube-schemas';
import { fromRoot } from './support/paths';

/**
 * README's "Kubernetes quick start" must work line by line. No cluster exists here, so each command is checked
 * against what it would act on: files exist, `helm install` commands render as written, applied manifests are
 * valid, the names later lines use are the names earlier lines create.
 */
const readme = fs.readFileSync(fromRoot('README.md'), 'utf8');
const section = readme.slice(readme.indexOf('## Kubernetes quick start'), readme.indexOf('## Architecture'));
const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
/** Shell commands of the block, continuation lines joined, comments dropped. */
const commands = block
  .replace(/\\\n\s*/g, ' ')
  .split('\n')
  .map((l) => l.replace(/\s+#.*$/, '').trim())
  .filter((l) => l && !l.startsWith('#'));

/** Namespace -> objects the earlier commands put there (helm installs and kubectl applies). */
const cluster = new Map<string, KubeObject[]>();
const add = (namespace: string, objects: KubeObject[]) => {
  for (const o of objects) {
    const ns = o.metadata.namespace ?? namespace;
    cluster.set(ns, [...(cluster.get(ns) ?? []), o]);
  }
};
const flag = (words: string[], ...names: string[]) => {
  const i = words.findIndex((w) => names.includes(w));
  return i >= 0 ? words[i + 1] : undefined;
};

describe('README: Kubernetes quick start', () => {
  test('has the commands the issue asks for: kind, helm install, kubectl apply, kubectl get obr, kubectl scale obr', () => {
    expect(commands.some((c) => c.startsWith('kind create cluster --config deploy/kind/cluster.yaml'))).toBe(true);
    expect(commands.filter((c) => c.startsWith('helm install'))).toHaveLength(2);
    expect(commands.some((c) => / apply -f deploy\/kind\/outboxrelay\.yaml/.test(c))).toBe(true);
    expect(commands.some((c) => / get obr$/.test(c))).toBe(true);
    expect(commands.some((c) => / scale obr\/orders-relay --replicas=3$/.test(c))).toBe(true);
  });

  test('every file it names exists', () => {
    const paths = [...section.matchAll(/(?:^|[\s`(])((?:deploy|helm|scripts)\/[\w./-]*[\w-])/g)].map((m) => m[1]!);
    expect(paths.length).toBeGreaterThan(5);
    expect(paths.filter((p) => !fs.existsSync(fromRoot(p)))).toEqual([]);
  });

  test('each command works on what the earlier ones created', () => {
    for (const command of commands) {
      const words = command.split(/\s+/);
      if (words[0] === 'helm' && words[1] === 'install') {
        const [release, chart] = [words[2]!, words[3]!];
        const namespace = flag(words, '--namespace', '-n')!;
        const valuesFile = flag(words, '-f', '--values');
        const objects = renderChart(chart, { release, namespace, valuesFiles: valuesFile ? [valuesFile] : [] });
        for (const object of objects) expect(() => validateObject(object)).not.toThrow();
        add(namespace, objects);
      } else if (words[0] === 'kubectl' && words.includes('apply')) {
        const namespace = flag(words, '-n', '--namespace') ?? 'default';
        for (let i = 0; i < words.length; i++) {
          if (words[i] !== '-f') continue;
          const objects = readManifests(words[i + 1]!);
          for (const object of objects) expect(() => validateObject(object)).not.toThrow();
          add(namespace, objects);
        }
      } else if (words[0] === 'kubectl') {
        // rollout status statefulset/x, scale obr/x, get obr x, delete pod of obr x: each names something that exists.
        const namespace = flag(words, '-n', '--namespace') ?? 'default';
        for (const ref of words.filter((w) => /^(statefulset|deployment|obr)\/[\w-]+$/.test(w))) {
          const [kind, name] = ref.split('/') as [string, string];
          const wanted = { statefulset: 'StatefulSet', deployment: 'Deployment', obr: 'OutboxRelay' }[kind]!;
          expect({ command, found: (cluster.get(namespace) ?? []).some((o) => o.kind === wanted && o.metadata.name === name) }).toEqual({ command, found: true });
        }
        const obrName = /get obr ([a-z][\w-]*)/.exec(command)?.[1];
        if (obrName) expect((cluster.get(namespace) ?? []).some((o) => o.kind === 'OutboxRelay' && o.metadata.name === obrName)).toBe(true);
        const selector = flag(words, '-l');
        if (selector) {
          const labels = Object.fromEntries(selector.split(',').map((kv) => kv.split('=') as [string, string]));
          const pods = (cluster.get(namespace) ?? []).filter((o) => o.spec?.template && selects(labels, podTemplateOf(o).metadata?.labels));
          expect({ command, workloads: pods.map((p) => p.metadata.name) }).toEqual({ command, workloads: ['outbox-relay-demo-subscriber'] });
        }
      }
    }
    expect(cluster.get('outbox-demo')?.some((o) => o.kind === 'OutboxRelay')).toBe(true);
  });

  test('the order it posts is one the order service accepts, on the NodePort the kind config publishes', () => {
    const curl = commands.find((c) => c.startsWith('curl') && c.includes('POST'))!;
    const body = /-d '([^']+)'/.exec(curl)![1]!;
    expect(createOrderRequestSchema.safeParse(JSON.parse(body)).success).toBe(true);
    expect(curl).toContain('localhost:30081/orders');
    const kindCluster = readManifests('deploy/kind/cluster.yaml')[0]!;
    expect(JSON.stringify(kindCluster.nodes)).toContain('"hostPort":30081');
  });
});
