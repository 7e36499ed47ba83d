// Stand-in for https://jslib.k6.io/k6-summary/0.1.0/index.js (k6's end-of-test text summary), which cannot be
// fetched here. It refuses what the real one could not render (no summary data, options of the wrong types) and
// renders each metric with its threshold mark as the real one does, so the test sees what reached it.
function textSummary(data, options) {
  if (!data || typeof data !== 'object' || !data.metrics || typeof data.metrics !== 'object') {
    throw new TypeError('stub k6-summary: textSummary(data) needs the end-of-test summary data');
  }
  const indent = options?.indent ?? ' ';
  const colors = options?.enableColors ?? true;
  if (typeof indent !== 'string' || typeof colors !== 'boolean') throw new TypeError('stub k6-summary: indent is a string, enableColors a boolean');
  const lines = Object.keys(data.metrics)
    .sort()
    .map((name) => {
      const thresholds = Object.values(data.metrics[name].thresholds ?? {});
      const mark = thresholds.length === 0 ? ' ' : thresholds.every((t) => t.ok) ? '✓' : '✗';
      const line = `${indent}  ${mark} ${name}`;
      return colors ? `\x1b[36m${line}\x1b[0m` : line;
    });
  return lines.join('\n');
}

module.exports = { textSummary };
