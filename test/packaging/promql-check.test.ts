import { checkPromql } from './support/promql';

/** The checker itself: what it must refuse, so a rule test that passes means something. */
describe('checkPromql (the PromQL check of the chart alert tests)', () => {
  test('a valid expression: no errors, its metric names', () => {
    expect(checkPromql('sum by (a) (rate(x_total{b="c", d!=""}[5m])) > 0 or (y unless y offset 15m)')).toEqual({
      errors: [],
      metricNames: ['x_total', 'y'],
      selectors: [
        { metric: 'x_total', labels: ['b', 'd'] },
        { metric: 'y', labels: [] },
        { metric: 'y', labels: [] },
      ],
    });
    expect(checkPromql('max_over_time(z[10m:1m]) * on (a) group_left (b) group by (a, b) ({__name__="up", job="j"})')).toMatchObject({
      errors: [],
      metricNames: ['z', 'up'],
      selectors: [
        { metric: 'z', labels: [] },
        { metric: 'up', labels: ['job'] },
      ],
    });
  });

  test.each([
    ['an unclosed parenthesis', 'sum(rate(x[5m])'],
    ['a dangling operator', 'x >'],
    ['a bad duration', 'rate(x[5 minutes])'],
    ['an unknown keyword between operands', 'x unles y'],
  ])('refuses %s', (_what, expr) => {
    expect(checkPromql(expr).errors).not.toEqual([]);
  });

  test('refuses a range function over an instant vector, and a selector without a metric name', () => {
    expect(checkPromql('increase(x_total)').errors).toEqual(['Increase needs a range vector, got VectorSelector "x_total"']);
    expect(checkPromql('sum(rate((x_total[5m])))').errors).toEqual([]);
    expect(checkPromql('{job="a"}').errors).toEqual(['selector without a metric name: {job="a"}']);
  });
});
