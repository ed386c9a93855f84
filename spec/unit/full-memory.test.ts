/**
 * A map whose memory has grown to the whole 4 GiB a wasm32 memory can address
 * (65,536 pages; maxBytes may be 2^32). The wasm string-key paths check block
 * references against the end of the memory; computed in bytes that end is
 * 65,536 << 16 = 2^32, which wraps to 0 in an i32, and every string probe,
 * put and delete then answered RETRY / SLOW and ran the JS path instead (right
 * answers, at about 1.5 times the cost). They now count words. The memory is
 * grown directly (reserving address space commits no memory).
 */
import test from 'ava';
import { SharedFlatMap } from '../../lib/index.js';
import { WASM_PAGE_BYTES } from '../../lib/memory.js';
import { READ_RETRY } from '../../lib/wasm/read-path.js';
import { DEL_SLOW, PUT_SLOW, type WasmWritePath } from '../../lib/wasm/write-path.js';
import type { WasmStringReadPath } from '../../lib/wasm/read-string-path.js';

const FULL_MEMORY_BYTES = 2 ** 32;

test('string keys in a memory of the full 4 GiB: the wasm probe, put and delete answer instead of handing every call back', (t) => {
  const map = new SharedFlatMap<string, number>({ keys: 'string', values: 'int32', maxBytes: FULL_MEMORY_BYTES });
  for (let i = 0; i < 100; i++) map.set(`key-${i}`, i);
  const { memory } = SharedFlatMap.unsafeExposeInternals(map as SharedFlatMap<unknown, unknown>);
  memory.memory.grow(FULL_MEMORY_BYTES / WASM_PAGE_BYTES - memory.memory.buffer.byteLength / WASM_PAGE_BYTES);
  t.is(memory.memory.buffer.byteLength, FULL_MEMORY_BYTES);

  // Record what the wasm functions answer (the map reads them from these fields on every call).
  const answers = { get: [] as number[], put: [] as number[], del: [] as number[] };
  const fields = map as unknown as { wstr: WasmStringReadPath; wput: WasmWritePath };
  const read = fields.wstr;
  fields.wstr = { ...read, getStrI32: (...args) => record(answers.get, read.getStrI32(...args)) };
  const write = fields.wput;
  fields.wput = {
    ...write,
    putStrI32: (...args) => record(answers.put, write.putStrI32(...args)),
    deleteStr: (...args) => record(answers.del, write.deleteStr(...args)),
  };

  t.is(map.get('key-5'), 5);
  t.is(map.get('absent'), undefined);
  map.set('key-7', 77); // overwrite
  map.set('new-key', 1); // insert: NEED_BLOCK, then the block is stored
  t.true(map.delete('key-8'));
  t.is(map.get('key-7'), 77);
  t.is(map.get('new-key'), 1);
  t.is(map.get('key-8'), undefined);
  t.is(map.size, 100);

  t.true(answers.get.length >= 5 && answers.put.length >= 3 && answers.del.length === 1, JSON.stringify(answers));
  t.false(answers.get.includes(READ_RETRY), `get answers ${JSON.stringify(answers.get)}`);
  t.false(answers.put.includes(PUT_SLOW), `put answers ${JSON.stringify(answers.put)}`);
  t.false(answers.del.includes(DEL_SLOW), `delete answers ${JSON.stringify(answers.del)}`);
});

function record(into: number[], answer: number): number {
  into.push(answer);
  return answer;
}
