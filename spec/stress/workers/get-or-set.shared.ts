/**
 * What the getOrSet race test and its workers agree on: the phases, the value
 * each racer offers, and where each result is recorded. (Kept out of the
 * worker module, whose top level runs the worker.)
 */

/** "fresh": keys never in the map; "revive": keys deleted just before the race. */
export const PHASES = ['fresh', 'revive'] as const;

/** Float values are offer ids plus this: not integers, so both words of the double matter. */
const FLOAT_OFFSET = 0.5;
/** Recorded for a returned value that no racer offered. */
export const NOT_AN_OFFER = -2;
/** Pre-filled in the results array: the racer never recorded this call. */
export const NOT_RECORDED = -1;

/** Offer id of racer `racer` in phase `phase`: distinct per racer and per phase. */
export function offerId(phase: number, racer: number, racers: number): number {
  return phase * racers + racer;
}

/** The value racer `racer` offers in phase `phase`. */
export function offeredValue(phase: number, racer: number, racers: number, float: boolean): number {
  const id = offerId(phase, racer, racers);
  return float ? id + FLOAT_OFFSET : id;
}

/** Inverse of offeredValue: the offer id a returned value stands for, or NOT_AN_OFFER. */
export function offerIdOf(value: number, racers: number, float: boolean): number {
  const id = float ? value - FLOAT_OFFSET : value;
  return Number.isInteger(id) && id >= 0 && id < PHASES.length * racers ? id : NOT_AN_OFFER;
}

/** Index of one recorded result in the results array. */
export function resultIndex(phase: number, racer: number, key: number, racers: number, totalKeys: number): number {
  return (phase * racers + racer) * totalKeys + key;
}

/** Int32 words of the results array. */
export function resultInts(racers: number, totalKeys: number): number {
  return PHASES.length * racers * totalKeys;
}
