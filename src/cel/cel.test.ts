import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CelCompileError, compileCel, prepareActivation } from './cel.js';

describe('compileCel', { timeout: 10_000 }, () => {
  const activation = {
    request: { method: 'POST', path: '/v1/chat', headers: { 'x-tenant': 'acme', 'content-type': 'application/json' } },
    response: { code: 200 },
    extproc: { decision: 'allow' },
  };

  it('evaluates against plain JS objects', () => {
    assert.equal(compileCel('request.method == "POST"').evaluate(activation), true);
    assert.equal(compileCel('request.headers["x-tenant"]').evaluate(activation), 'acme');
    assert.equal(compileCel('"x-tenant" in request.headers').evaluate(activation), true);
    assert.equal(compileCel('request.path.startsWith("/v1")').evaluate(activation), true);
    assert.equal(compileCel('extproc.decision == "allow"').evaluate(activation), true);
  });

  it('treats integral numbers as CEL ints and returns plain numbers', () => {
    assert.equal(compileCel('response.code').evaluate(activation), 200);
    assert.equal(compileCel('response.code * 2').evaluate(activation), 400);
    assert.equal(compileCel('string(response.code)').evaluate(activation), '200');
    assert.equal(compileCel('size(request.path)').evaluate(activation), 8);
  });

  it('converts maps and lists to objects and arrays', () => {
    assert.deepEqual(compileCel('{"a": 1, "b": [1, "x", true]}').evaluate({}), { a: 1, b: [1, 'x', true] });
    assert.deepEqual(compileCel('[request.method, response.code]').evaluate(activation), ['POST', 200]);
  });

  it('throws a useful error on a bad expression', () => {
    assert.throws(
      () => compileCel('request.method =='),
      (err: unknown) => err instanceof CelCompileError && /invalid CEL expression "request.method =="/.test(err.message),
    );
    assert.throws(() => compileCel('request.(('), CelCompileError);
  });

  it('throws at evaluation when a field is missing', () => {
    assert.throws(() => compileCel('request.nope == 1').evaluate(activation), /failed/);
    assert.equal(compileCel('has(request.nope)').evaluate(activation), false);
  });

  it('keeps its source and renders as it in JSON', () => {
    const e = compileCel('request.method');
    assert.equal(e.source, 'request.method');
    assert.equal(JSON.stringify({ e }), '{"e":"request.method"}');
  });

  it('a prepared activation gives the same results and can be reused', () => {
    const prepared = prepareActivation(activation);
    assert.equal(compileCel('response.code * 2').evaluate(prepared), 400);
    assert.equal(compileCel('request.headers["x-tenant"]').evaluate(prepared), 'acme');
    assert.deepEqual(compileCel('extproc').evaluate(prepared), { decision: 'allow' });
  });

  it('compiles and evaluates fast enough to do at config load and per request', () => {
    const n = 200;
    let t = performance.now();
    for (let i = 0; i < n; i++) compileCel(`request.headers["x-${i}"] == "a" && request.path.startsWith("/v1")`);
    const compileMs = (performance.now() - t) / n;
    const e = compileCel('request.headers["x-tenant"] == "acme" && request.path.startsWith("/v1")');
    t = performance.now();
    for (let i = 0; i < 2000; i++) e.evaluate(activation);
    const evalUs = ((performance.now() - t) / 2000) * 1000;
    const prepared = prepareActivation(activation);
    t = performance.now();
    for (let i = 0; i < 2000; i++) e.evaluate(prepared);
    const preparedUs = ((performance.now() - t) / 2000) * 1000;
    // Loose bounds: this is a guard against pathological regressions, not a benchmark.
    assert.ok(compileMs < 20, `compile ${compileMs.toFixed(3)} ms`);
    assert.ok(evalUs < 2000, `eval ${evalUs.toFixed(1)} µs`);
    process.stdout.write(
      `# cel compile ${compileMs.toFixed(3)} ms, eval ${evalUs.toFixed(1)} µs, eval (prepared) ${preparedUs.toFixed(1)} µs\n`,
    );
  });
});
