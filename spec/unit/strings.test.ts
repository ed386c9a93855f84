/**
 * The string codec (lib/strings.ts) and the unvalidated block readers
 * (lib/blocks.ts).
 *
 * - Round-trips through a real map, as keys and as values, of the strings the
 *   codec has special cases for: empty, ASCII, Latin-1 (0x80-0xFF, including
 *   the C1 controls 0x80-0x9F that a windows-1252 decoder would remap), BMP,
 *   astral pairs, lone surrogates at either end, lengths around
 *   SHORT_STRING_UNITS / SHORT_DECODE_UNITS (the JS / Buffer switches),
 *   every length the explicit-argument decoder has a case for, lengths around
 *   PACKED_KEY_MAX_UNITS (the packed / unit-by-unit key compare) and long strings.
 * - Decoded short strings are flat (a child process with %DebugPrint).
 * - blockEqualsPacked agrees with blockEqualsString, ignores stale padding
 *   bytes, and bounds-checks like the other readers.
 * - stringEquals against encoded buffers: length, tag and unit mismatches.
 * - Garbage blocks: random words in a small SharedArrayBuffer; every reader
 *   returns TORN / -1 or a bounded result and never throws, in both read paths
 *   (a worker per path, since FLATSHARE_STRICT_ATOMICS is read at load time).
 */
import test from 'ava';
import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import { SharedFlatMap, hashers } from '../../lib/index.js';
import { INT_BYTES, MAX_VALUE_BYTES, NULL_BLOCK, TAG_BYTES, TAG_LATIN1, TAG_UTF16 } from '../../lib/layout.js';
import {
  LATIN1_MAX_UNIT,
  PACKED_KEY_MAX_UNITS,
  PackedKey,
  SHORT_DECODE_UNITS,
  SHORT_STRING_UNITS,
  readString,
  stringBytes,
  stringEquals,
  stringTag,
  packLatin1,
  writeString,
} from '../../lib/strings.js';
import { TORN, blockEqualsPacked, blockEqualsString, makeViews, readBlockBytes, readBlockString, writeBlockPacked } from '../../lib/blocks.js';
import { murmur3String, murmur3StringPacked } from '../../lib/hashers/murmur3.js';
import { blockHeader } from '../../lib/arena.js';
import { MODES, assertMode, runWorker, testSeed } from '../stress/support.js';
import type { BlocksFuzzData, BlocksFuzzResult } from './workers/blocks-fuzz.worker.js';

const FUZZ_URL = new URL('./workers/blocks-fuzz.worker.js', import.meta.url);

const latin1All = Array.from({ length: 0x100 }, (_, i) => String.fromCharCode(i)).join('');
const c1 = Array.from({ length: 0x20 }, (_, i) => String.fromCharCode(0x80 + i)).join('');

/** Repeat `unit` up to exactly `n` UTF-16 code units (n may cut a pair in half: a lone surrogate). */
function ofLength(unit: string, n: number): string {
  return unit.repeat(Math.ceil(n / unit.length)).slice(0, n);
}

const SPECIAL: readonly [string, string][] = [
  ['empty', ''],
  ['ASCII', 'hello, world'],
  ['NUL and controls', '\0\x01\x1f\x7f'],
  ['Latin-1 all 256 units', latin1All],
  ['C1 controls 0x80-0x9F', c1],
  ['0xFF', '\xff'],
  ['Latin-1 accents', 'café naïve façade ÿ'],
  ['first unit above Latin-1', '\u0100'],
  ['BMP: Greek, CJK, U+FFFF', 'αβγ 漢字 \uffff'],
  ['astral pair', '😀'],
  ['astral pairs mixed', 'a😀b𝄞c'],
  ['lone high surrogate alone', '\ud800'],
  ['lone low surrogate alone', '\udfff'],
  ['lone high surrogate at the end', 'abc\ud83d'],
  ['lone low surrogate at the start', '\ude00abc'],
  ['reversed pair', '\ude00\ud83d'],
  ['lone surrogates both ends, Latin-1 inside', '\udc00é\ud800'],
];

/** Strings of lengths around SHORT_DECODE_UNITS and SHORT_STRING_UNITS and long ones, in both forms. */
function lengthCases(): [string, string][] {
  const cases: [string, string][] = [];
  const lengths = [
    SHORT_DECODE_UNITS - 1,
    SHORT_DECODE_UNITS,
    SHORT_DECODE_UNITS + 1,
    SHORT_STRING_UNITS - 1,
    SHORT_STRING_UNITS,
    SHORT_STRING_UNITS + 1,
    2 * SHORT_STRING_UNITS,
    PACKED_KEY_MAX_UNITS - 1,
    PACKED_KEY_MAX_UNITS,
    PACKED_KEY_MAX_UNITS + 1,
    1000,
    30_000,
  ];
  for (const n of lengths) {
    cases.push([`ASCII x${n}`, ofLength('abcdefghij', n)]);
    cases.push([`Latin-1 x${n}`, ofLength('\x80é\xff\x9fz', n)]);
    cases.push([`UTF-16 x${n}`, ofLength('ж漢\u0100', n)]);
    cases.push([`astral x${n} (may end in a lone surrogate)`, ofLength('😀a', n)]);
    cases.push([`lone surrogates at both ends x${n}`, '\udc00' + ofLength('x\u20ac', Math.max(0, n - 2)) + '\ud800']);
  }
  return cases;
}

test('stringTag / stringBytes pick one byte per unit exactly when every unit is <= 0xFF', (t) => {
  t.is(stringTag(''), TAG_LATIN1);
  t.is(stringTag(latin1All), TAG_LATIN1);
  t.is(stringTag(latin1All + '\u0100'), TAG_UTF16);
  t.is(stringTag('\ud800'), TAG_UTF16);
  t.is(stringBytes(latin1All, TAG_LATIN1), 256);
  t.is(stringBytes('😀', TAG_UTF16), 4);
  t.is(LATIN1_MAX_UNIT, 0xff);
});

test('writeString / readString round-trip in both forms, aligned at any word, short and long', (t) => {
  const buffer = new SharedArrayBuffer(1 << 20);
  const bytes = Buffer.from(buffer);
  const halves = new Uint16Array(buffer);
  for (const [name, s] of [...SPECIAL, ...lengthCases()]) {
    if (s.length * 2 + 64 > buffer.byteLength) continue;
    const tag = stringTag(s);
    for (const offset of [0, 4, 8 * INT_BYTES]) {
      bytes.fill(0xab);
      writeString(bytes, halves, offset, s, tag);
      const n = stringBytes(s, tag);
      t.is(readString(bytes, halves, offset, n, tag), s, `${name} at ${offset}`);
      t.is(bytes[offset + n], 0xab, `${name}: wrote past its ${n} bytes`);
      t.true(stringEquals(bytes, halves, offset, n, tag, s), `${name} equals itself`);
    }
  }
});

test('readString decodes every length up to SHORT_DECODE_UNITS + 1 in both forms, at odd offsets', (t) => {
  const buffer = new SharedArrayBuffer(4096);
  const bytes = Buffer.from(buffer);
  const halves = new Uint16Array(buffer);
  for (let n = 0; n <= SHORT_DECODE_UNITS + 1; n++) {
    for (const [name, s] of [
      ['ASCII', ofLength('abcdefghijklmnopqrstuvwxyz', n)],
      ['Latin-1 high', ofLength('\xff\x80\xe9\0', n)],
      ['UTF-16', ofLength('ж漢\u0100\ud800', n)],
    ] as const) {
      const tag = stringTag(s);
      for (const offset of [0, 2, 6, 40]) {
        bytes.fill(0xcd);
        writeString(bytes, halves, offset, s, tag);
        t.is(readString(bytes, halves, offset, stringBytes(s, tag), tag), s, `${name} x${n} at ${offset}`);
      }
    }
  }
});

test('readString returns flat strings (not cons strings) for short and long payloads', (t) => {
  // %DebugPrint names the instance type; a child process, because natives syntax is a V8 flag.
  const strings = new URL('../../lib/strings.js', import.meta.url).href;
  const script = `
    import { readString } from ${JSON.stringify(strings)};
    const buffer = new SharedArrayBuffer(4096);
    const bytes = Buffer.from(buffer);
    const halves = new Uint16Array(buffer);
    bytes.fill(97);
    halves.fill(0x6f22, 1024);
    for (const n of [9, 13, 16, ${SHORT_DECODE_UNITS}, ${SHORT_DECODE_UNITS + 1}, 100]) {
      %DebugPrint(readString(bytes, halves, 4, n, ${TAG_LATIN1}));
      %DebugPrint(readString(bytes, halves, 2048, 2 * n, ${TAG_UTF16}));
    }`;
  const child = spawnSync(process.execPath, ['--allow-natives-syntax', '--input-type=module', '-e', script], { encoding: 'utf8' });
  t.is(child.status, 0, child.stderr);
  const types = child.stdout.match(/- type: \w+/g) ?? [];
  t.is(types.length, 12, child.stdout.slice(0, 2000));
  for (const type of types) t.notRegex(type, /CONS/, type);
});

test('blockEqualsPacked: equal / different like blockEqualsString, stale padding ignored, header checked first', (t) => {
  const buffer = new SharedArrayBuffer(64 * INT_BYTES);
  const views = makeViews(buffer);
  const packed = new PackedKey();
  const compare = (block: number, key: string): number => {
    packLatin1(key, packed);
    return blockEqualsPacked(views.words, block, packed, key.length);
  };
  const block = 8;
  for (let n = 0; n <= 13; n++) {
    const key = ofLength('a\xe9\xffz\0', n);
    views.bytes.fill(0xee); // stale bytes everywhere, padding included
    Atomics.store(views.words, block, blockHeader(n, TAG_LATIN1));
    writeString(views.bytes, views.halves, (block + 1) * INT_BYTES, key, TAG_LATIN1);
    t.is(compare(block, key), 1, `x${n} equals itself despite stale padding`);
    t.is(blockEqualsString(views, block, key, MAX_VALUE_BYTES), 1);
    t.is(compare(block, key + 'a'), 0, `x${n}: longer key`);
    if (n > 0) {
      t.is(compare(block, key.slice(0, -1)), 0, `x${n}: shorter key`);
      for (let i = 0; i < n; i++) {
        const other = key.slice(0, i) + String.fromCharCode(key.charCodeAt(i) ^ 1) + key.slice(i + 1);
        t.is(compare(block, other), 0, `x${n}: unit ${i} differs`);
      }
    }
  }
  // Same units in the two-byte form: the header differs, so no payload is compared.
  Atomics.store(views.words, block, blockHeader(4, TAG_UTF16));
  writeString(views.bytes, views.halves, (block + 1) * INT_BYTES, 'ab', TAG_UTF16);
  t.is(compare(block, 'ab'), 0);
  t.is(compare(block, 'a\0b\0'), 0, 'the UTF-16LE bytes of "ab" as a one-byte key');
  // Bounds: negative and out-of-view blocks are -1; a payload that ends exactly at the view's end is read.
  for (const bad of [-1, 64, 1 << 30]) t.is(compare(bad, 'abc'), -1, `block ${bad}`);
  // NULL_BLOCK, a reclaimed tombstone's key reference, holds no key: it equals none (0, not -1: no retry).
  t.is(compare(NULL_BLOCK, 'abc'), 0, 'NULL_BLOCK');
  t.is(compare(NULL_BLOCK, ''), 0, 'NULL_BLOCK, empty key');
  const last = 64 - 1 - 2; // header + 2 payload words, the last one the view's last word
  Atomics.store(views.words, last, blockHeader(8, TAG_LATIN1));
  writeString(views.bytes, views.halves, (last + 1) * INT_BYTES, 'abcdefgh', TAG_LATIN1);
  t.is(compare(last, 'abcdefgh'), 1, 'payload ending at the last word of the view');
  t.is(compare(last, 'abcdefgX'), 0);
  Atomics.store(views.words, last, blockHeader(9, TAG_LATIN1)); // needs a third payload word, past the view
  t.is(compare(last, 'abcdefghi'), -1, 'expected header, payload past the view: retry with fresh views');
  t.is(compare(last, 'abcdefghij'), 0, 'another header: a different key, whatever lies past the view');
});

test('writeBlockPacked: the bytes writeString writes, the tail word zero-padded, over stale bytes', (t) => {
  const buffer = new SharedArrayBuffer(128 * INT_BYTES);
  const views = makeViews(buffer);
  const packed = new PackedKey();
  const block = 4;
  const payload = (block + 1) * INT_BYTES;
  for (const n of [0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 255, 256]) {
    const key = ofLength('k\xe9\0\xffQ', n);
    t.is(murmur3StringPacked(key, 7, packed), murmur3String(key, 7), `x${n}: the packing pass hashes like murmur3String`);
    t.true(packed.unitsOr <= 0xff);
    views.bytes.fill(0xee, 0, 4 * INT_BYTES + Math.ceil(n / INT_BYTES) * INT_BYTES + 2 * INT_BYTES); // stale block contents
    Atomics.store(views.words, block, blockHeader(n, TAG_LATIN1));
    writeBlockPacked(views.words, block, packed, n);
    const expected = Buffer.alloc(n);
    expected.write(key, 'latin1');
    t.deepEqual(Buffer.from(views.bytes.subarray(payload, payload + n)), expected, `x${n}: payload bytes`);
    const padEnd = payload + Math.ceil(n / INT_BYTES) * INT_BYTES;
    for (let b = payload + n; b < padEnd; b++) t.is(views.bytes[b], 0, `x${n}: padding byte ${b - payload} is zero`);
    if (padEnd < views.bytes.length) t.is(views.bytes[padEnd], 0xee, `x${n}: nothing written past the payload's last word`);
    t.is(readBlockString(views, block, MAX_VALUE_BYTES), key);
    t.is(blockEqualsPacked(views.words, block, packed, n), 1);
    t.is(blockEqualsString(views, block, key, MAX_VALUE_BYTES), 1);
  }
});

test('string keys through a real map with a non-murmur3 hasher (hash, then a separate packing pass)', (t) => {
  const map = new SharedFlatMap<string, string>({ keys: 'string', values: 'string', capacity: 4, hasher: hashers.fnv1a() });
  const cases = [...SPECIAL, ...lengthCases()];
  for (const [name, s] of cases) map.set(s, name);
  for (const [name, s] of cases) t.is(map.get(s), name, name);
  t.is(map.get(ofLength('abcdefghij', PACKED_KEY_MAX_UNITS) + 'x'), undefined);
  t.is(map.get(ofLength('abcdefghij', PACKED_KEY_MAX_UNITS - 1)), 'ASCII x' + String(PACKED_KEY_MAX_UNITS - 1));
});

test('codec round-trips through a real map: as string keys and as string values (and json text)', (t) => {
  const map = new SharedFlatMap<string, string>({ keys: 'string', values: 'string', capacity: 4 });
  const json = new SharedFlatMap<string, unknown>({ keys: 'string', values: 'json', capacity: 4 });
  const attached = SharedFlatMap.attach<string, string>(map.handle);
  const cases = [...SPECIAL, ...lengthCases()];
  for (const [name, s] of cases) {
    map.set(s, `${s}|${name}`);
    json.set(s, { s, list: [s, name] });
  }
  for (const [name, s] of cases) {
    t.is(map.get(s), `${s}|${name}`, name);
    t.is(attached.get(s), `${s}|${name}`, `${name} via an attached view`);
    t.deepEqual(json.get(s), { s, list: [s, name] }, `${name} as json`);
  }
  // Long values (past the key limit) in both forms, with lone surrogates at both ends.
  for (const long of [ofLength('\x80é\xffz', 300_000), '\udc00' + ofLength('ж😀', 300_000) + '\ud800']) {
    map.set('long', long);
    t.is(map.get('long'), long);
  }
  map.delete('long');
  // Distinct strings stay distinct keys, even when one is the other's form in the other encoding.
  t.is(map.size, new Set(cases.map(([, s]) => s)).size);
  const keys = new Set(map.keys());
  for (const [name, s] of cases) t.true(keys.has(s), `iteration yields ${name} exactly as stored`);
  // Near misses are absent.
  t.is(map.get('\ud800\udc00'), undefined, 'a pair is not two lone surrogates that were stored separately');
  t.is(map.get(c1.slice(1)), undefined);
  t.is(map.get('\u00ff'.repeat(2)), undefined);
  t.is(map.get(ofLength('abcdefghij', SHORT_STRING_UNITS) + '\0'), undefined, 'a trailing NUL matters');
});

test('codec round-trips arbitrary strings (fast-check: full Unicode, lone surrogates, Latin-1)', (t) => {
  const map = new SharedFlatMap<string, string>({ keys: 'string', values: 'string', capacity: 0 });
  const model = new Map<string, string>();
  const anyString = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 60 }),
    fc.string({ unit: fc.integer({ min: 0, max: 0xff }).map((c) => String.fromCharCode(c)), maxLength: 60 }),
    fc.string({ unit: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)), maxLength: 4 }),
    fc.string({ unit: 'grapheme', maxLength: 40 }),
  );
  fc.assert(
    fc.property(anyString, anyString, (key, value) => {
      map.set(key, value);
      model.set(key, value);
      return map.get(key) === value;
    }),
    { numRuns: 3000 },
  );
  for (const [key, value] of model) if (map.get(key) !== value) t.fail(`${JSON.stringify(key)} lost its value`);
  t.is(map.size, model.size);
});

test('stringEquals: false on a length, tag or single-unit mismatch', (t) => {
  const buffer = new SharedArrayBuffer(4096);
  const bytes = Buffer.from(buffer);
  const halves = new Uint16Array(buffer);
  const latin = 'abc\xe9\x80';
  writeString(bytes, halves, 0, latin, TAG_LATIN1);
  t.true(stringEquals(bytes, halves, 0, 5, TAG_LATIN1, latin));
  t.false(stringEquals(bytes, halves, 0, 4, TAG_LATIN1, latin), 'shorter byte length');
  t.false(stringEquals(bytes, halves, 0, 5, TAG_LATIN1, latin + 'x'), 'longer key');
  t.false(stringEquals(bytes, halves, 0, 5, TAG_LATIN1, 'abc\xe9\x81'), 'last unit differs');
  t.false(stringEquals(bytes, halves, 0, 5, TAG_BYTES, latin), 'bytes tag');
  t.false(stringEquals(bytes, halves, 0, 5, 3, latin), 'unknown tag');
  t.false(stringEquals(bytes, halves, 0, 10, TAG_UTF16, latin), 'same text, other form');

  const wide = 'a\u0100\ud800';
  writeString(bytes, halves, 64, wide, TAG_UTF16);
  t.true(stringEquals(bytes, halves, 64, 6, TAG_UTF16, wide));
  t.false(stringEquals(bytes, halves, 64, 5, TAG_UTF16, wide), 'odd byte length');
  t.false(stringEquals(bytes, halves, 64, 6, TAG_UTF16, 'a\u0100\ud801'), 'lone surrogate differs');
  t.false(stringEquals(bytes, halves, 64, 6, TAG_LATIN1, wide), 'latin-1 tag on a two-byte payload');
  t.true(stringEquals(bytes, halves, 64, 0, TAG_UTF16, ''), 'empty');
});

test('block readers: a hand-built block reads back; a header past the view or the limit is TORN', (t) => {
  const buffer = new SharedArrayBuffer(256 * INT_BYTES);
  const views = makeViews(buffer);
  const block = 10;
  Atomics.store(views.words, block, blockHeader(3, TAG_LATIN1));
  writeString(views.bytes, views.halves, (block + 1) * INT_BYTES, 'abc', TAG_LATIN1);
  t.is(readBlockString(views, block, MAX_VALUE_BYTES), 'abc');
  t.is(blockEqualsString(views, block, 'abc', MAX_VALUE_BYTES), 1);
  t.is(blockEqualsString(views, block, 'abd', MAX_VALUE_BYTES), 0);
  t.deepEqual(readBlockBytes(views, block, MAX_VALUE_BYTES), new Uint8Array([97, 98, 99]));
  t.is(readBlockString(views, block, 2), TORN, 'over the kind limit');
  t.is(blockEqualsString(views, block, 'abc', 2), -1);
  t.is(readBlockBytes(views, block, 2), TORN);
  t.is(blockEqualsString(views, NULL_BLOCK, 'abc', MAX_VALUE_BYTES), 0, 'NULL_BLOCK (a reclaimed tombstone\'s key) equals no key');
  for (const bad of [0, -1, 256, 1 << 30]) {
    t.is(readBlockString(views, bad, MAX_VALUE_BYTES), TORN, `block ${bad}`);
    t.is(readBlockBytes(views, bad, MAX_VALUE_BYTES), TORN, `block ${bad}`);
    if (bad !== NULL_BLOCK) t.is(blockEqualsString(views, bad, 'abc', MAX_VALUE_BYTES), -1, `block ${bad}`);
  }
  Atomics.store(views.words, 250, blockHeader(24, TAG_UTF16)); // needs 6 payload words; 5 left
  t.is(readBlockString(views, 250, MAX_VALUE_BYTES), TORN, 'payload past the end of the view');
  Atomics.store(views.words, 250, blockHeader(20, TAG_UTF16)); // exactly to the end
  t.is(typeof readBlockString(views, 250, MAX_VALUE_BYTES), 'string');
  // A fresh copy, not a view of shared memory.
  const copy = readBlockBytes(views, block, MAX_VALUE_BYTES) as Uint8Array;
  copy[0] = 0;
  t.is(readBlockString(views, block, MAX_VALUE_BYTES), 'abc');
});

for (const mode of MODES) {
  test(`block readers on random garbage never throw and return TORN or a bounded result: ${mode.name} reads`, async (t) => {
    const seed = testSeed(t);
    const report = await runWorker<BlocksFuzzData, BlocksFuzzResult>(FUZZ_URL, { seed, rounds: 400, words: 512 }, mode);
    assertMode(t, mode, [report]);
    const r = report.result;
    t.log(`${r.calls} calls: ${r.decoded} decoded in-bounds garbage, ${r.torn} TORN`);
    t.deepEqual(r.failures, [], `seed ${seed}`);
    t.true(r.decoded > 1000 && r.torn > 1000, 'the fuzz must hit both outcomes often');
    t.true(r.packedEqual > 1000, `the packed compare must find planted keys often (${r.packedEqual})`);
  });
}
