/**
 * PromQL checks for the chart's alerting rules, with the parser of Prometheus's own web UI
 * (@prometheus-io/lezer-promql, released with Prometheus). It is a grammar: it finds syntax errors, not type
 * errors, so the one type rule alerts most often break is checked here on the tree: functions over a range
 * (rate, increase, *_over_time...) take a range vector (`x[5m]` or a subquery), never an instant vector.
 */
import { parser } from '@prometheus-io/lezer-promql';

/** A node of the parsed tree (@lezer/common's SyntaxNode, reached through the parser's own types). */
type SyntaxNode = ReturnType<typeof parser.parse>['topNode'];

export interface PromqlCheck {
  /** Problems, each with the offending text; empty when the expression is valid. */
  errors: string[];
  /** Metric names the expression selects, in order of appearance, without duplicates. */
  metricNames: string[];
  /** Each selector: its metric name and the label names its matchers test (`x{a="1", b!=""}` → x, [a, b]). */
  selectors: Array<{ metric: string; labels: string[] }>;
}

/** Tree names of the functions that need a range vector (FunctionIdentifier's child). */
const RANGE_FUNCTIONS = new Set(['Rate', 'Irate', 'Increase', 'Delta', 'Idelta', 'Deriv', 'Changes', 'Resets', 'PredictLinear']);
const takesRange = (name: string) => RANGE_FUNCTIONS.has(name) || name.endsWith('OverTime');

/** Strips parentheses: `(x[5m])` is still a range vector. */
function unwrap(node: SyntaxNode | null): SyntaxNode | null {
  let current = node;
  while (current?.name === 'ParenExpr') current = current.firstChild;
  return current;
}

export function checkPromql(expr: string): PromqlCheck {
  const tree = parser.parse(expr);
  const errors: string[] = [];
  const names: string[] = [];
  const selectors: PromqlCheck['selectors'] = [];
  const text = (node: { from: number; to: number }) => expr.slice(node.from, node.to);
  tree.iterate({
    enter(ref) {
      const node = ref.node;
      if (ref.type.isError) errors.push(`syntax error at ${ref.from}: "${expr.slice(Math.max(0, ref.from - 20), ref.from + 20)}"`);
      if (ref.name === 'VectorSelector') {
        const identifier = node.getChild('Identifier');
        const matchers = node.getChild('LabelMatchers')?.getChildren('UnquotedLabelMatcher') ?? [];
        const nameMatcher = matchers.find((m) => text(m.getChild('LabelName')!) === '__name__' && m.getChild('MatchOp')?.firstChild?.name === 'EqlSingle');
        const name = identifier ? text(identifier) : nameMatcher ? JSON.parse(text(nameMatcher.getChild('StringLiteral')!)) : undefined;
        if (name === undefined) errors.push(`selector without a metric name: ${text(node)}`);
        else {
          names.push(name as string);
          const labels = matchers.map((m) => text(m.getChild('LabelName')!)).filter((l) => l !== '__name__');
          selectors.push({ metric: name as string, labels });
        }
      }
      if (ref.name === 'FunctionCall') {
        const fn = node.getChild('FunctionIdentifier')?.firstChild?.name ?? '';
        if (takesRange(fn)) {
          const argument = unwrap(node.getChild('FunctionCallBody')?.firstChild ?? null);
          if (argument?.name !== 'MatrixSelector' && argument?.name !== 'SubqueryExpr') {
            errors.push(`${fn} needs a range vector, got ${argument ? `${argument.name} "${text(argument)}"` : 'nothing'}`);
          }
        }
      }
    },
  });
  return { errors, metricNames: [...new Set(names)], selectors };
}
