/** Constants shared by the slow-writer test and its worker. */
import { EMPTY, STATE_MASK } from '../../lib/seqlock.js';
export { S_KEY } from '../../lib/layout.js';

/** True when the seq word says EMPTY (probe end). */
export function STATE_MASK_EMPTY_CHECK(seq: number): boolean {
  return (seq & STATE_MASK) === EMPTY;
}
