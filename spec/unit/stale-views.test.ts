/**
 * A reader whose views of the memory end before a block that another thread
 * allocated after growing the memory: the validated slot points past the
 * views, the block read says TORN, and the read must refresh its views and
 * return the value (it used to throw "a validated slot references an invalid
 * arena block"; the string stress tests hit it now and then).
 */
import test from 'ava';
import { SharedFlatMap } from '../../lib/index.js';

const BIG = 'x'.repeat(3 << 20); // 3 MiB of Latin-1: more than one grow step

for (const keys of ['string', 'int32'] as const) {
  for (const values of ['string', 'json', 'bytes'] as const) {
    test(`${keys} keys, ${values} values: a value block past the reader's views is read after a refresh`, (t) => {
      const writer = new SharedFlatMap<string | number, unknown>({ keys, values, capacity: 64, maxBytes: 1 << 26 });
      const key = keys === 'string' ? 'the-key' : 12345;
      const other = keys === 'string' ? 'filler' : 777;
      const v = (s: string): unknown => (values === 'bytes' ? new Uint8Array(Buffer.from(s)) : values === 'json' ? { s } : s);
      writer.set(key, v('old'));
      const reader = SharedFlatMap.attach<string | number, unknown>(writer.handle);
      t.deepEqual(reader.get(key), v('old'));
      const viewBytes = SharedFlatMap.unsafeExposeInternals(reader).words.length * 4;
      // Grow the memory from the writer, then publish a value block beyond the reader's views.
      writer.set(other, values === 'bytes' ? new Uint8Array(BIG.length) : values === 'json' ? { s: BIG } : BIG);
      writer.set(key, v('new'));
      t.true(writer.byteLength > viewBytes, 'the memory grew past the reader views');
      t.deepEqual(reader.get(key), v('new'));
      t.is(reader.has(key), true);
    });
  }
}
