import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCommand, UsageError } from './args.js';

test('file, inline and validate-only forms', () => {
  assert.deepEqual(parseCommand(['-f', 'c.yaml']), { kind: 'run', source: { kind: 'file', path: 'c.yaml', watch: true }, validateOnly: false });
  assert.deepEqual(parseCommand(['--file=c.yaml', '--validate-only']), {
    kind: 'run',
    source: { kind: 'file', path: 'c.yaml', watch: true },
    validateOnly: true,
  });
  assert.deepEqual(parseCommand(['-c', 'binds: []']), { kind: 'run', source: { kind: 'inline', text: 'binds: []' }, validateOnly: false });
  assert.deepEqual(parseCommand(['--validate-only', '--config', 'x: 1']), { kind: 'run', source: { kind: 'inline', text: 'x: 1' }, validateOnly: true });
  assert.deepEqual(parseCommand(['-f', '-']), { kind: 'run', source: { kind: 'stdin' }, validateOnly: false });
  assert.deepEqual(parseCommand(['-f', '/dev/stdin']), { kind: 'run', source: { kind: 'stdin' }, validateOnly: false });
  assert.deepEqual(parseCommand(['-f', '/dev/fd/63']), { kind: 'run', source: { kind: 'file', path: '/dev/fd/63', watch: false }, validateOnly: false });
});

test('schema, help and version', () => {
  assert.deepEqual(parseCommand(['schema']), { kind: 'schema' });
  assert.deepEqual(parseCommand(['--help']), { kind: 'help' });
  assert.deepEqual(parseCommand(['-h']), { kind: 'help' });
  assert.deepEqual(parseCommand(['--version']), { kind: 'version' });
  assert.deepEqual(parseCommand(['-V']), { kind: 'version' });
});

test('usage errors name the problem', () => {
  const cases: [string[], RegExp][] = [
    [[], /a config is required/],
    [['-f', 'a', '-c', 'b'], /mutually exclusive/],
    [['--bogus'], /bogus/],
    [['serve'], /unknown command "serve"/],
    [['schema', '-f', 'x'], /takes no options/],
    [['schema', 'extra'], /unexpected argument "extra"/],
    [['-f'], /argument missing|-f/],
  ];
  for (const [argv, re] of cases) {
    assert.throws(() => parseCommand(argv), (e: unknown) => e instanceof UsageError && re.test(e.message), argv.join(' '));
  }
});
