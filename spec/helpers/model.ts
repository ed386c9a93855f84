/**
 * The end-of-test check that a map holds exactly what a model `Map` of the
 * acknowledged writes holds: the same size, every model entry readable with
 * its value, and iteration yielding exactly the model's entries (each once).
 */
import type { ExecutionContext } from 'ava';

/** Anything with the map's size, get and iteration (a SharedFlatMap of any kinds). */
export interface ModelledMap<K, V> extends Iterable<[K, V]> {
  readonly size: number;
  get(key: K): V | undefined;
}

/** Sorts entries by key: numbers or strings, never mixed in one map. */
function byKey<K, V>(a: [K, V], b: [K, V]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

export function assertMatchesModel<K, V>(t: ExecutionContext, map: ModelledMap<K, V>, model: ReadonlyMap<K, V>, label: string): void {
  t.is(map.size, model.size, `${label}: size`);
  let wrong = 0;
  for (const [key, value] of model) if (map.get(key) !== value) wrong++;
  t.is(wrong, 0, `${label}: acknowledged entries with a wrong or missing value`);
  t.deepEqual([...map].sort(byKey), [...model].sort(byKey), `${label}: iteration`);
}
