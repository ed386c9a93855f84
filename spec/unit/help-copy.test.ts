/**
 * Regression: helpCopy must do nothing unless the epoch is COPYING: under
 * ALLOCATING(g) it claims no chunk of table g's buckets (no CHUNK_STATE word
 * of the current table changes), and a later migration still copies every
 * lane of every bucket (no entry lost).
 *
 * Recovery's "help the interrupted migration" step used to call helpCopy for
 * any non-STABLE epoch. Under ALLOCATING(g) the chunk states of the current
 * table g are all "unclaimed" and the descriptor of g + 1 still names an old
 * region, so the helper copied table g's chunks into that old region and
 * marked them DONE; the real migration then skipped those chunks and the
 * entries in them were lost (seen as linearizability failures: a get returning
 * absent for a key nobody deleted).
 */
import test from 'ava';
import { SharedFlatMap } from '../../lib/index.js';
import { H_EPOCH, chunkCount, chunkStatesAt } from '../../lib/layout.js';
import { PHASE_ALLOCATING, PHASE_STABLE, genOf, makeEpoch } from '../../lib/epoch.js';
import { helpCopy, type MigrationHost } from '../../lib/migration.js';

const ENTRIES = 5_000;

test('helpCopy under ALLOCATING touches no chunk state, and a later migration keeps every entry', (t) => {
  const map = new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32', capacity: ENTRIES });
  for (let k = 0; k < ENTRIES; k++) map.set(k, k * 3);
  // Two real migrations first, so the descriptor of g + 1 names a retired region (the state the bug needs).
  map.clear();
  for (let k = 0; k < ENTRIES; k++) map.set(k, k * 3);
  const internals = SharedFlatMap.unsafeExposeInternals(map as SharedFlatMap<unknown, unknown>);
  const { words, table } = internals;
  const gen = genOf(Atomics.load(words, H_EPOCH));
  const states = chunkStatesAt(table.base, table.buckets);
  const chunks = chunkCount(table.buckets);
  t.true(chunks > 1, `${table.buckets} buckets make ${chunks} chunks: more than one, so a claimed chunk shows among unclaimed ones`);
  const statesBefore = Array.from(words.subarray(states, states + chunks));
  t.true(statesBefore.every((s) => s === 0), 'the current table starts with unclaimed chunks');

  // Pretend a writer just moved the epoch to ALLOCATING(g), and another thread "helps".
  const stable = makeEpoch(gen, PHASE_STABLE);
  const allocating = makeEpoch(gen, PHASE_ALLOCATING);
  t.is(Atomics.compareExchange(words, H_EPOCH, stable, allocating), stable);
  const host = (map as unknown as { migrationHost: MigrationHost }).migrationHost;
  (map as unknown as { beginWrite(): void }).beginWrite();
  helpCopy(host, allocating);
  const statesAfter = Array.from(words.subarray(states, states + chunks));
  Atomics.store(words, H_EPOCH, stable);
  t.deepEqual(statesAfter, statesBefore, 'no chunk of the current table may be claimed or marked done');

  // Grow through a real migration: every entry must survive.
  for (let k = ENTRIES; k < ENTRIES * 3; k++) map.set(k, k * 3);
  t.true(genOf(Atomics.load(words, H_EPOCH)) > gen, 'a migration happened');
  let lost = 0;
  for (let k = 0; k < ENTRIES * 3; k++) if (map.get(k) !== k * 3) lost++;
  t.is(lost, 0);
});
