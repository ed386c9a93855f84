/**
 * Garbage-block fuzz for lib/blocks.ts, run in a worker so that the test can
 * pick the read path (FLATSHARE_STRICT_ATOMICS is read when lib/seqlock.js
 * loads). Fills a small SharedArrayBuffer with random words (biased towards
 * plausible block headers) and calls every unvalidated reader on random block
 * indices. Reports counts, or the first failure: a throw, an out-of-range
 * result, or a non-TORN answer where the bounds check must fail.
 * blockEqualsPacked is checked against blockEqualsString on the same garbage,
 * with the probe key sometimes planted at the block (so "equal" is reached).
 */
import { workerData } from 'node:worker_threads';
import { BLOCK_HEADER_INTS, BLOCK_TAG_BITS, INT_BYTES, MAX_KEY_BYTES, MAX_VALUE_BYTES, NULL_BLOCK, TAG_LATIN1 } from '../../../lib/layout.js';
import { TORN, blockEqualsPacked, blockEqualsString, makeViews, readBlockBytes, readBlockString } from '../../../lib/blocks.js';
import { PackedKey, packLatin1 } from '../../../lib/strings.js';
import { SeededPrng } from '../../helpers/prng.js';
import { finishWorker } from '../../stress/support.js';

export interface BlocksFuzzData {
  seed: number;
  rounds: number;
  words: number;
}

export interface BlocksFuzzResult {
  calls: number;
  /** Reads that passed the bounds check and returned a value. */
  decoded: number;
  torn: number;
  /** blockEqualsPacked calls that answered "equal". */
  packedEqual: number;
  failures: string[];
}

function run(data: BlocksFuzzData): BlocksFuzzResult {
  const prng = new SeededPrng(data.seed);
  const buffer = new SharedArrayBuffer(data.words * INT_BYTES);
  const views = makeViews(buffer);
  const words = views.words;
  const result: BlocksFuzzResult = { calls: 0, decoded: 0, torn: 0, packedEqual: 0, failures: [] };
  const packed = new PackedKey();
  const fail = (what: string): void => {
    if (result.failures.length < 5) result.failures.push(what);
  };
  const randomWord = (): number => {
    const roll = prng.float();
    // Plausible headers: a small length (sometimes just past the view) and any of the 4 tags.
    if (roll < 0.4) return (prng.int(0, data.words * INT_BYTES + 64) << BLOCK_TAG_BITS) | prng.int(0, 4);
    if (roll < 0.5) return prng.int(0, 256);
    return prng.next() | 0;
  };
  /** blockEqualsPacked on `block` with a random Latin-1 key, planted there (header and bytes) a third of the time. */
  const checkPacked = (where: string, block: number): void => {
    let key = '';
    for (let n = prng.int(0, 14); key.length < n; ) key += String.fromCharCode(prng.chance(0.8) ? prng.int(0x61, 0x64) : prng.int(0, 0x100));
    const ints = Math.ceil(key.length / INT_BYTES);
    if (prng.chance(0.33) && block > 0 && block + BLOCK_HEADER_INTS + ints <= words.length) {
      words[block] = (key.length << BLOCK_TAG_BITS) | TAG_LATIN1;
      views.bytes.write(key, (block + BLOCK_HEADER_INTS) * INT_BYTES, 'latin1');
    }
    packLatin1(key, packed);
    const headerInView = block > 0 && block < words.length;
    const expected = headerInView && words[block] === ((key.length << BLOCK_TAG_BITS) | TAG_LATIN1);
    const payloadInView = block + BLOCK_HEADER_INTS + ints <= words.length;
    try {
      result.calls++;
      const e = blockEqualsPacked(words, block, packed, key.length);
      const reference = headerInView ? blockEqualsString(views, block, key, MAX_KEY_BYTES) : block === NULL_BLOCK ? 0 : -1;
      if (block === NULL_BLOCK) {
        // A reclaimed tombstone's key reference: it holds no key, so it equals none.
        if (e !== 0) fail(`${where}: packed compare of ${JSON.stringify(key)} with NULL_BLOCK returned ${e}, not 0`);
      } else if (!headerInView || (expected && !payloadInView)) {
        if (e !== -1) fail(`${where}: packed compare of ${JSON.stringify(key)} outside the view returned ${e}, not -1`);
      } else if (!expected) {
        if (e !== 0) fail(`${where}: packed compare of ${JSON.stringify(key)} with another header returned ${e}, not 0`);
      } else if (e !== reference) {
        fail(`${where}: packed compare of ${JSON.stringify(key)} returned ${e}, blockEqualsString ${reference}`);
      }
      if (e === 1) result.packedEqual++;
    } catch (error) {
      fail(`${where}: blockEqualsPacked threw ${(error as Error).stack ?? String(error)}`);
    }
  };
  for (let round = 0; round < data.rounds; round++) {
    for (let i = 0; i < words.length; i++) words[i] = randomWord();
    for (let probe = 0; probe < 64; probe++) {
      const block = prng.chance(0.9) ? prng.int(-4, words.length + 4) : prng.next() | 0;
      checkPacked(`round ${round}, block ${block}, header ${(words[block] ?? 0) >>> 0}`, block);
      const maxBytes = prng.pick([MAX_KEY_BYTES, MAX_VALUE_BYTES, 7, 0]);
      const where = `round ${round}, block ${block}, header ${(words[block] ?? 0) >>> 0}, maxBytes ${maxBytes}`;
      const claimed = (words[block] ?? 0) >>> BLOCK_TAG_BITS;
      const inBounds =
        block > 0 && block < words.length && claimed <= maxBytes &&
        (block + BLOCK_HEADER_INTS) * INT_BYTES + claimed <= words.length * INT_BYTES;
      const key = prng.chance(0.5) ? '' : String.fromCharCode(prng.int(0, 0x10000)).repeat(prng.int(0, 8));
      try {
        result.calls += 3;
        const s = readBlockString(views, block, maxBytes);
        const b = readBlockBytes(views, block, maxBytes);
        const e = blockEqualsString(views, block, key, maxBytes);
        if (!inBounds) {
          // NULL_BLOCK is out of range for the readers, and a key that equals none (0) for the compare.
          if (s !== TORN || b !== TORN || e !== (block === NULL_BLOCK ? 0 : -1)) fail(`${where}: out-of-range block not reported TORN`);
          result.torn += 3;
          continue;
        }
        if (s === TORN || b === TORN || e === -1) {
          fail(`${where}: in-range block reported TORN`);
          continue;
        }
        result.decoded += 3;
        if (typeof s !== 'string' || s.length > claimed) fail(`${where}: string of ${String((s as string).length)} units`);
        if (!(b instanceof Uint8Array) || b.length !== claimed || b.buffer === buffer) {
          fail(`${where}: bytes of length ${b.length}, shared: ${b.buffer === buffer}`);
        }
        if (e !== 0 && e !== 1) fail(`${where}: blockEqualsString returned ${e}`);
        if (e === 1 && s !== key) fail(`${where}: equal to ${JSON.stringify(key)} but decodes as ${JSON.stringify(s)}`);
      } catch (error) {
        fail(`${where}: threw ${(error as Error).stack ?? String(error)}`);
      }
    }
  }
  return result;
}

finishWorker(run(workerData as BlocksFuzzData));
