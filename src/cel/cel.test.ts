import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CONDITION_SCOPE, CelCompileError, compileCel, prepareActivation } from './cel.js';

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

describe('compileCel rejects names the gateway does not provide', { timeout: 10_000 }, () => {
  const rejects = (source: string, pattern: RegExp, scope = undefined as typeof CONDITION_SCOPE | undefined) =>
    assert.throws(
      () => compileCel(source, scope),
      (err: unknown) => err instanceof CelCompileError && pattern.test(err.message),
      `${source} should be rejected with ${pattern}`,
    );

  it('an unknown function, method or namespaced function', () => {
    rejects('nosuchfn(request.path) == 1', /^invalid CEL expression "nosuchfn\(request.path\) == 1": at 1:1: unknown function "nosuchfn"$/);
    rejects('request.path.startWith("/v1")', /at 1:13: unknown method "startWith" \(did you mean "startsWith"\?\)/);
    rejects('math.greatest(1, 2)', /unknown function "math.greatest"/);
    rejects('strings.quot("a")', /unknown function "strings.quot" \(did you mean "strings.quote"\?\)/);
  });

  it('an unknown root variable, naming the known ones', () => {
    rejects("requets.path == '/x'", /at 1:1: unknown variable "requets" \(did you mean "request"\?\); known: request, response, source, extproc$/);
    rejects('nosuchvar.x', /unknown variable "nosuchvar"; known: request, response, source, extproc/);
    rejects('request.path ==\n  reqest.path', /at 2:3: unknown variable "reqest"/);
    rejects('[1].all(x, y > 0)', /unknown variable "y"/);
    rejects('[1].all(x, x > 0) && x == 1', /at 1:22: unknown variable "x"/, undefined);
    rejects('foo.Bar{a: 1}', /unknown message type "foo.Bar"/);
  });

  it('a condition sees only the request and its source', () => {
    assert.equal(compileCel('source.address == "10.0.0.1"', CONDITION_SCOPE).evaluate({ source: { address: '10.0.0.1', port: 1 } }), true);
    rejects('response.code == 200', /variable "response" is not available in an extProc condition; it sees only: request, source/, CONDITION_SCOPE);
    rejects('extproc.decision == "allow"', /variable "extproc" is not available/, CONDITION_SCOPE);
    rejects("requets.path == '/x'", /unknown variable "requets" \(did you mean "request"\?\); known: request, source$/, CONDITION_SCOPE);
    for (const ok of ['request.path.startsWith("/v1")', '"x-debug" in request.headers', 'has(request.headers.x) && request.headers.x == "a"']) {
      assert.doesNotThrow(() => compileCel(ok, CONDITION_SCOPE), ok);
    }
  });

  it('keeps macros, standard and string-extension functions, type names and comprehension variables', () => {
    const activation = {
      request: { method: 'GET', path: '/v1/a', headers: { 'x-a': '1', 'x-b': '2' } },
      response: { code: 200 },
      source: { address: '127.0.0.1', port: 1 },
      extproc: { ns1: { k: 'v' }, arr: [1, 2] },
    };
    const cases: [string, unknown][] = [
      ['has(request.headers.nope)', false],
      ['request.headers.exists(k, k == "x-a")', true],
      ['request.headers.all(k, k.startsWith("x-"))', true],
      ['request.headers.exists_one(k, k == "x-b")', true],
      ['extproc.arr.map(x, x * 2)', [2, 4]],
      ['extproc.arr.filter(x, x > 1).size()', 1],
      ['[[1]].exists(x, x.exists(y, y == 1))', true],
      ['[1].map(x, [x].map(y, y + x))', [[2]]],
      ['type(request.path) == string && type(1) == int && type(null) == null_type', true],
      ['int("12") + 1 == 13 && double(1) > 0.5 && uint(1) == 1u && dyn(1) == 1', true],
      ['duration("1s") > duration("0s") && timestamp("2020-01-01T00:00:00Z").getFullYear() == 2020', true],
      ['google.protobuf.Duration{seconds: 1} == duration("1s")', true],
      ['strings.quote("a")', '"a"'],
      ['"a,b".split(",").size() + "%s".format(["x"]).size()', 3],
      ['request.path.lowerAscii().replace("v1", "v2").matches("^/v2")', true],
      ['{"a": 1}.a == 1 && 1 in [1] && !false ? size(request.headers) : 0', 2],
      ['source.address + ":" + string(source.port)', '127.0.0.1:1'],
      ['extproc.ns1.k', 'v'],
      ['response.code * 2', 400],
      ['bytes("a") == b"a"', true],
    ];
    for (const [source, want] of cases) assert.deepEqual(compileCel(source).evaluate(activation), want, source);
  });

  it('a failure that depends on the data is still a runtime error, not a load error', () => {
    const e = compileCel('request.headers["x-tenant"] == "a"', CONDITION_SCOPE);
    assert.throws(() => e.evaluate({ request: { headers: {} } }), /failed/);
    assert.throws(() => compileCel('1 / 0').evaluate({}), /failed/);
    assert.throws(() => compileCel('int("abc")').evaluate({}), /failed/);
  });
});
