import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { HpackDecoder, HpackError, encodeIndexedStatic, encodeLiteral, encodeLiteralIndexedName } from './hpack.js';

type Field = [string, string];

/** Bytes from a hex dump as printed in RFC 7541 (spaces and line breaks allowed). */
function hex(dump: string): Buffer {
  return Buffer.from(dump.replace(/\s+/g, ''), 'hex');
}

/** Bytes from a bit string such as '00011' + '111' (length must be a multiple of 8). */
function bits(s: string): Buffer {
  assert.equal(s.length % 8, 0, 'bit string must fill whole octets');
  return Buffer.from(s.match(/.{8}/g)!.map((octet) => parseInt(octet, 2)));
}

/**
 * Asserts the decoder's dynamic table holds exactly `entries`, newest first: indexed fields 62..
 * must decode to them, and the next index must be out of range. Indexed fields never change the
 * table, and an out-of-range index is rejected before anything changes, so the probe is harmless.
 */
function assertTable(decoder: HpackDecoder, entries: Field[]): void {
  const probe = Buffer.from(entries.map((_, i) => 0x80 | (62 + i)));
  assert.deepEqual(decoder.decode(probe), entries);
  assert.throws(() => decoder.decode(Buffer.from([0x80 | (62 + entries.length)])), HpackError);
}

const tableSize = (entries: Field[]): number => entries.reduce((n, [k, v]) => n + k.length + v.length + 32, 0);

describe('RFC 7541 Appendix C examples', () => {
  test('C.2 header field representations, each on a fresh decoder', () => {
    const cases: Array<{ block: string; list: Field[]; table: Field[] }> = [
      { block: '400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572', list: [['custom-key', 'custom-header']], table: [['custom-key', 'custom-header']] },
      { block: '040c 2f73 616d 706c 652f 7061 7468', list: [[':path', '/sample/path']], table: [] },
      { block: '1008 7061 7373 776f 7264 0673 6563 7265 74', list: [['password', 'secret']], table: [] },
      { block: '82', list: [[':method', 'GET']], table: [] },
    ];
    for (const { block, list, table } of cases) {
      const decoder = new HpackDecoder();
      assert.deepEqual(decoder.decode(hex(block)), list, block);
      assertTable(decoder, table);
    }
    assert.equal(tableSize([['custom-key', 'custom-header']]), 55);
  });

  const requests: Array<{ list: Field[]; table: Field[]; size: number }> = [
    {
      list: [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com']],
      table: [[':authority', 'www.example.com']],
      size: 57,
    },
    {
      list: [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com'], ['cache-control', 'no-cache']],
      table: [['cache-control', 'no-cache'], [':authority', 'www.example.com']],
      size: 110,
    },
    {
      list: [[':method', 'GET'], [':scheme', 'https'], [':path', '/index.html'], [':authority', 'www.example.com'], ['custom-key', 'custom-value']],
      table: [['custom-key', 'custom-value'], ['cache-control', 'no-cache'], [':authority', 'www.example.com']],
      size: 164,
    },
  ];
  const date1 = 'Mon, 21 Oct 2013 20:13:21 GMT';
  const date2 = 'Mon, 21 Oct 2013 20:13:22 GMT';
  const loc = 'https://www.example.com';
  const cookie = 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1';
  const responses: Array<{ list: Field[]; table: Field[]; size: number }> = [
    {
      list: [[':status', '302'], ['cache-control', 'private'], ['date', date1], ['location', loc]],
      table: [['location', loc], ['date', date1], ['cache-control', 'private'], [':status', '302']],
      size: 222,
    },
    {
      list: [[':status', '307'], ['cache-control', 'private'], ['date', date1], ['location', loc]],
      table: [[':status', '307'], ['location', loc], ['date', date1], ['cache-control', 'private']],
      size: 222,
    },
    {
      list: [[':status', '200'], ['cache-control', 'private'], ['date', date2], ['location', loc], ['content-encoding', 'gzip'], ['set-cookie', cookie]],
      table: [['set-cookie', cookie], ['content-encoding', 'gzip'], ['date', date2]],
      size: 215,
    },
  ];

  /** Decodes the blocks in order on one decoder, checking the list and table after each. */
  function runSequence(decoder: HpackDecoder, blocks: string[], expected: typeof requests): void {
    blocks.forEach((block, i) => {
      const { list, table, size } = expected[i]!;
      assert.equal(tableSize(table), size, `expected table ${i} matches the RFC's size`);
      assert.deepEqual(decoder.decode(hex(block)), list, `block ${i}`);
      assertTable(decoder, table);
    });
  }

  test('C.3 requests without Huffman, three blocks on one decoder', () => {
    runSequence(new HpackDecoder(), [
      '8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
      '8286 84be 5808 6e6f 2d63 6163 6865',
      '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65',
    ], requests);
  });

  test('C.4 requests with Huffman, three blocks on one decoder', () => {
    runSequence(new HpackDecoder(), [
      '8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff',
      '8286 84be 5886 a8eb 1064 9cbf',
      '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf',
    ], requests);
  });

  test('C.5 responses without Huffman, table size 256, with evictions', () => {
    runSequence(new HpackDecoder(256), [
      `4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133
       2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d`,
      '4803 3330 37c1 c0bf',
      `88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d
       54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049
       5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31`,
    ], responses);
  });

  test('C.6 responses with Huffman, table size 256, with evictions', () => {
    runSequence(new HpackDecoder(256), [
      `4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6
       2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3`,
      '4883 640e ffc1 c0bf',
      `88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
       77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
       9587 3160 65c0 03ed 4ee5 b106 3d50 07`,
    ], responses);
  });
});

describe('dynamic table behaviour', () => {
  test('size updates at the start of a block resize and evict; several in a row are allowed', () => {
    const decoder = new HpackDecoder();
    decoder.decode(hex('4001 6101 62 4001 6301 64')); // a: b, then c: d
    assertTable(decoder, [['c', 'd'], ['a', 'b']]);
    assert.deepEqual(decoder.decode(hex('3f 0a 82')), [[':method', 'GET']]); // size 41 keeps one entry
    assertTable(decoder, [['c', 'd']]);
    assert.deepEqual(decoder.decode(hex('20 3fe11f 4001 6501 66')), [['e', 'f']]); // 0, then 4096
    assertTable(decoder, [['e', 'f']]);
  });

  test('an entry larger than the table empties it without being added (RFC 7541 §4.4)', () => {
    const decoder = new HpackDecoder(64);
    decoder.decode(hex('4001 6101 62'));
    assertTable(decoder, [['a', 'b']]);
    const big = 'v'.repeat(40);
    assert.deepEqual(decoder.decode(Buffer.concat([hex('4001 7828'), Buffer.from(big)])), [['x', big]]);
    assertTable(decoder, []);
  });

  test('a literal may name a dynamic entry that its own insertion evicts', () => {
    const decoder = new HpackDecoder(40); // room for exactly one 'n'+'v'+32 entry
    decoder.decode(hex('4001 6e01 76'));
    assert.deepEqual(decoder.decode(hex('7e01 77')), [['n', 'w']]); // name from index 62, which is evicted
    assertTable(decoder, [['n', 'w']]);
  });

  test('the table keeps working after growing its ring past 16 entries', () => {
    const decoder = new HpackDecoder();
    const entries: Field[] = [];
    for (let i = 0; i < 40; i++) {
      const name = `k${i}`;
      decoder.decode(Buffer.concat([Buffer.from([0x40, name.length]), Buffer.from(name), Buffer.from([1, 0x76])]));
      entries.unshift([name, 'v']);
    }
    assertTable(decoder, entries);
  });
});

describe('malformed blocks give HpackError', () => {
  const cases: Array<[string, string | Buffer, HpackDecoder?]> = [
    ['empty integer continuation', 'ff'],
    ['truncated integer continuation', 'ff 80'],
    ['integer above 2^31', 'ff ff ff ff ff 0f'],
    ['integer with six continuation octets', '3f 80 80 80 80 80 00'], // 31, padded with zero groups
    ['index 0', '80'],
    ['index past an empty dynamic table', 'be'],
    ['multi-octet index past the tables', 'ff 80 01'],
    ['literal name index past the tables', '7e 01 61'],
    ['Huffman padding of zeros', Buffer.concat([hex('00 0161 81'), bits('00011' + '000')])],
    ['Huffman padding longer than 7 bits', Buffer.concat([hex('00 0161 82'), bits('00011' + '1'.repeat(11))])],
    ['Huffman string of padding only', hex('00 0161 81 ff')],
    ['EOS inside a Huffman string', Buffer.concat([hex('00 0161 85'), bits('1'.repeat(30) + '00011' + '11111')])],
    ['EOS at the end of a Huffman string', Buffer.concat([hex('00 0161 84'), bits('1'.repeat(32))])],
    ['size update above the advertised maximum', '3f e2 1f'],
    ['size update above a smaller maximum', '3f e2 01', new HpackDecoder(256)],
    ['size update after a header field', '82 20'],
    ['name length with no name', '00 05 61 62'],
    ['value longer than the block', '40 01 61 05 78'],
    ['literal with nothing after the type octet', '00'],
    ['indexed name with no value', '0f 2b'],
    ['Huffman string longer than the block', '00 0161 85 ff'],
  ];
  for (const [label, block, decoder] of cases) {
    test(label, () => {
      const bytes = typeof block === 'string' ? hex(block) : block;
      assert.throws(() => (decoder ?? new HpackDecoder()).decode(bytes), HpackError);
    });
  }

  test('integers may carry up to five continuation octets, as long as they fit in 31 bits', () => {
    assert.deepEqual(new HpackDecoder().decode(hex('3f 80 80 80 80 00 82')), [[':method', 'GET']]);
    assert.deepEqual(new HpackDecoder(2 ** 32).decode(hex('3f e0 ff ff ff 07')), []); // 2^31 - 1
    assert.throws(() => new HpackDecoder(2 ** 32).decode(hex('3f e1 ff ff ff 07')), HpackError); // 2^31
  });

  test('header list over maxListSize, counted as name + value + 32 per field', () => {
    const field = (valueLength: number): Buffer => Buffer.concat([hex('00 0161'), Buffer.from([valueLength]), Buffer.alloc(valueLength, 0x78)]);
    assert.equal(new HpackDecoder(4096, 100).decode(field(67)).length, 1); // 1 + 67 + 32 = 100
    assert.throws(() => new HpackDecoder(4096, 100).decode(field(68)), HpackError);
    assert.throws(() => new HpackDecoder(4096, 100).decode(Buffer.concat([field(30), field(30)])), HpackError);
  });
});

// ---- The python3-hpack oracle

const ORACLE = fileURLToPath(new URL('../../../test/helpers/hpack-oracle.py', import.meta.url));

/** Runs the oracle script with one JSON request; fails with an install hint when python3-hpack is missing. */
function oracle<T>(request: unknown): T {
  const run = spawnSync('/usr/bin/python3', [ORACLE], { input: JSON.stringify(request), encoding: 'utf8', timeout: 30_000, maxBuffer: 64 << 20 });
  // Checked first: the script exits before reading stdin, so a large request also reports EPIPE.
  if (run.status === 3) assert.fail(`/usr/bin/python3 cannot import hpack; install it with: apt-get install python3-hpack\n${run.stderr}`);
  if (run.error) throw new Error(`could not run /usr/bin/python3 for the HPACK oracle: ${run.error.message}`);
  assert.equal(run.status, 0, `hpack oracle failed (status ${run.status}, signal ${run.signal}):\n${run.stderr}`);
  return JSON.parse(run.stdout) as T;
}

const toHex = (s: string): string => Buffer.from(s, 'latin1').toString('hex');
const fromHex = (h: string): string => Buffer.from(h, 'hex').toString('latin1');

/** mulberry32: a small seeded PRNG so the oracle input is the same on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface OracleBlock { sizes: number[]; huffman: boolean; headers: Array<[string, string, boolean]> }

/** A session of random header lists for one encoder, with table size changes drawn from `sizes`. */
function randomSession(rand: () => number, blocks: number, sizes: number[], firstSizes: number[]): { input: OracleBlock[]; lists: Field[][] } {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const int = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
  const chars = (n: number, lo: number, hi: number): string => String.fromCharCode(...Array.from({ length: n }, () => int(lo, hi)));
  const names = [':status', 'content-type', 'grpc-status', 'grpc-message', 'grpc-encoding', 'te', 'user-agent', 'x-request-id', 'date', 'location', 'set-cookie'];
  const staticPairs: Field[] = [[':status', '200'], [':status', '404'], [':method', 'POST'], [':path', '/'], ['accept-encoding', 'gzip, deflate']];
  const seen: Field[] = [];
  let current = 4096; // the encoder's table size
  const input: OracleBlock[] = [];
  const lists: Field[][] = [];
  for (let b = 0; b < blocks; b++) {
    const headers: Field[] = [];
    for (let n = int(0, 12); n > 0; n--) {
      const r = rand();
      let field: Field;
      if (r < 0.2 && seen.length > 0) field = pick(seen);
      else if (r < 0.3) field = pick(staticPairs);
      else {
        const kind = rand();
        const name = kind < 0.6 ? pick(names) : kind < 0.9 ? chars(int(1, 20), 0x61, 0x7a) : chars(int(1, 10), 0x21, 0xff);
        const v = rand();
        const value = v < 0.15 ? '' : v < 0.55 ? chars(int(1, 40), 0x20, 0x7e) : v < 0.8 ? chars(int(1, 30), 0x80, 0xff) : chars(int(128, 700), 0x00, 0xff);
        field = [name, value];
        seen.push(field);
      }
      headers.push(field);
    }
    // python3-hpack 4.0.0 forgets a pending size update when the size is then set to its current
    // value again (HeaderTable.resized is overwritten), so each new size differs from the last.
    const resize = b === 0 ? [...firstSizes] : rand() < 0.1 ? Array.from({ length: int(1, 2) }, () => pick(sizes)) : [];
    for (let i = 0; i < resize.length; i++) {
      while (resize[i] === current) resize[i] = pick(sizes);
      current = resize[i]!;
    }
    input.push({ sizes: resize, huffman: rand() < 0.85, headers: headers.map(([k, v]) => [toHex(k), toHex(v), rand() < 0.1]) });
    lists.push(headers);
  }
  return { input, lists };
}

test('decodes a few hundred header lists encoded by python3-hpack, across blocks and table size changes', { timeout: 60_000 }, () => {
  const rand = prng(7541);
  const everyOctet = String.fromCharCode(...Array.from({ length: 256 }, (_, i) => i));
  const fixed: OracleBlock = {
    sizes: [],
    huffman: true,
    headers: [
      ...Array.from({ length: 61 }, (_, i): [string, string, boolean] => {
        const [name, value] = staticEntry(i + 1);
        return [toHex(name), toHex(value), false];
      }),
      [toHex('every-octet'), toHex(everyOctet), false],
      [toHex(everyOctet), toHex(''), true],
    ],
  };
  const wide = randomSession(rand, 200, [0, 32, 100, 256, 1024, 4096], []);
  const narrow = randomSession(rand, 100, [0, 64, 128, 256], [256]);
  const { sessions } = oracle<{ sessions: string[][] }>({ op: 'encode', sessions: [[fixed, ...wide.input], narrow.input] });

  const expectFixed = fixed.headers.map(([k, v]): Field => [fromHex(k), fromHex(v)]);
  const runs: Array<[HpackDecoder, string[], Field[][]]> = [
    [new HpackDecoder(), sessions[0]!, [expectFixed, ...wide.lists]],
    [new HpackDecoder(256), sessions[1]!, narrow.lists],
  ];
  for (const [decoder, blocks, lists] of runs) {
    assert.equal(blocks.length, lists.length);
    blocks.forEach((block, i) => {
      const where = `block ${i} of ${blocks.length}: ${block.slice(0, 80)}`;
      let got: Field[] = [];
      assert.doesNotThrow(() => { got = decoder.decode(Buffer.from(block, 'hex')); }, where);
      assert.deepEqual(got, lists[i], where);
    });
  }
  // The input must actually exercise size updates and multi-octet integers.
  const all = sessions.flat().map((h) => Buffer.from(h, 'hex'));
  assert.ok(all.some((b) => b.length > 0 && (b[0]! & 0xe0) === 0x20), 'some block starts with a size update');
  assert.ok(all.some((b) => b.length > 1000), 'some block holds long literals');
});

test('the static table matches python3-hpack entry by entry', () => {
  const block = Buffer.from(Array.from({ length: 61 }, (_, i) => 0x81 + i));
  const { lists } = oracle<{ lists: Array<Array<[string, string]>> }>({ op: 'decode', blocks: [block.toString('hex')] });
  const theirs = lists[0]!.map(([k, v]): Field => [fromHex(k), fromHex(v)]);
  assert.equal(theirs.length, 61);
  assert.deepEqual(new HpackDecoder().decode(block), theirs);
});

/** The static table entry at `index`, read back through the decoder so the test does not restate the table. */
function staticEntry(index: number): Field {
  return new HpackDecoder().decode(Buffer.from([0x80 | index]))[0]!;
}

describe('encoders', () => {
  test('encodeLiteral writes a new-name literal without indexing', () => {
    assert.deepEqual(encodeLiteral('x-trace', 'abc'), hex('00 07 782d7472616365 03 616263'));
    assert.throws(() => encodeLiteral('Content-Type', 'x'), TypeError);
    assert.throws(() => encodeLiteral('x-euro', '\u20ac'), RangeError);
  });

  test('encodeLiteralIndexedName uses the first static index for the name', () => {
    assert.deepEqual(encodeLiteralIndexedName(':authority', 'h').subarray(0, 1), hex('01'));
    assert.deepEqual(encodeLiteralIndexedName(':path', '/pkg.Svc/Call'), Buffer.concat([hex('04 0d'), Buffer.from('/pkg.Svc/Call')]));
    assert.deepEqual(encodeLiteralIndexedName('content-type', 'application/grpc').subarray(0, 3), hex('0f 10 10'));
    assert.deepEqual(encodeLiteralIndexedName('user-agent', 'x').subarray(0, 2), hex('0f 2b'));
    assert.deepEqual(encodeLiteralIndexedName('grpc-timeout', '5S'), encodeLiteral('grpc-timeout', '5S'));
  });

  test('encodeIndexedStatic matches name and value exactly', () => {
    assert.deepEqual(encodeIndexedStatic(':method', 'POST'), hex('83'));
    assert.deepEqual(encodeIndexedStatic(':scheme', 'http'), hex('86'));
    assert.deepEqual(encodeIndexedStatic(':scheme', 'https'), hex('87'));
    assert.deepEqual(encodeIndexedStatic('accept-encoding', 'gzip, deflate'), hex('90'));
    assert.equal(encodeIndexedStatic(':method', 'PUT'), undefined);
    assert.equal(encodeIndexedStatic('x-custom', ''), undefined);
  });

  test('encoded fields round-trip through our decoder and python3-hpack without touching the table', () => {
    const long = 'l'.repeat(300);
    const fields: Array<[Buffer, Field]> = [
      [encodeIndexedStatic(':method', 'POST')!, [':method', 'POST']],
      [encodeIndexedStatic(':scheme', 'https')!, [':scheme', 'https']],
      [encodeLiteralIndexedName(':path', '/envoy.service.ext_proc.v3.ExternalProcessor/Process'), [':path', '/envoy.service.ext_proc.v3.ExternalProcessor/Process']],
      [encodeLiteralIndexedName(':authority', 'localhost:50051'), [':authority', 'localhost:50051']],
      [encodeLiteralIndexedName('content-type', 'application/grpc'), ['content-type', 'application/grpc']],
      [encodeLiteralIndexedName('user-agent', long), ['user-agent', long]],
      [encodeLiteral('te', 'trailers'), ['te', 'trailers']],
      [encodeLiteral('x-latin1', 'caf\u00e9 \u00ff'), ['x-latin1', 'caf\u00e9 \u00ff']],
      [encodeLiteral('x-empty', ''), ['x-empty', '']],
    ];
    const block = Buffer.concat(fields.map(([b]) => b));
    const expected = fields.map(([, f]) => f);
    const decoder = new HpackDecoder();
    assert.deepEqual(decoder.decode(block), expected);
    assertTable(decoder, []);
    const { lists } = oracle<{ lists: Array<Array<[string, string]>> }>({ op: 'decode', blocks: [block.toString('hex')] });
    assert.deepEqual(lists[0]!.map(([k, v]): Field => [fromHex(k), fromHex(v)]), expected);
  });
});
