import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AggregatorRegistry, Registry } from 'prom-client';
import { FastCounter, FastHistogram } from './fast-metrics.js';

test('counter and histogram expose Prometheus text with cumulative buckets', async () => {
  const reg = new Registry();
  const c = new FastCounter('t_total', 'help c', ['a', 'b'], reg);
  const h = new FastHistogram('t_seconds', 'help h', ['a'], [0.1, 1], reg);
  c.series(['x', 'y']).inc();
  c.series(['x', 'y']).inc(2);
  c.series(['x', 'z']).inc();
  for (const v of [0.05, 0.1, 0.5, 3]) h.series(['x']).observe(v);
  const text = await reg.metrics();
  assert.match(text, /# TYPE t_total counter/);
  assert.match(text, /t_total\{a="x",b="y"\} 3/);
  assert.match(text, /t_total\{a="x",b="z"\} 1/);
  assert.match(text, /# TYPE t_seconds histogram/);
  assert.match(text, /t_seconds_bucket\{a="x",le="0.1"\} 2/);
  assert.match(text, /t_seconds_bucket\{a="x",le="1"\} 3/);
  assert.match(text, /t_seconds_bucket\{a="x",le="\+Inf"\} 4/);
  assert.match(text, /t_seconds_sum\{a="x"\} 3.65/);
  assert.match(text, /t_seconds_count\{a="x"\} 4/);
});

test('label values are escaped and series from several registries aggregate by sum', async () => {
  const regs = [new Registry(), new Registry()];
  for (const reg of regs) {
    new FastCounter('agg_total', 'h', ['v'], reg).series(['a"b\\c']).inc(2);
    new FastHistogram('agg_seconds', 'h', [], [1], reg).series([]).observe(0.5);
  }
  const merged = AggregatorRegistry.aggregate(await Promise.all(regs.map((r) => r.getMetricsAsJSON())));
  const text = await merged.metrics();
  assert.match(text, /agg_total\{v="a\\"b\\\\c"\} 4/);
  assert.match(text, /agg_seconds_bucket\{le="1"\} 2/);
  assert.match(text, /agg_seconds_count 2/);
});
