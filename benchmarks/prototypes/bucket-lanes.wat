;; flatshare benchmark prototype (NOT the library): the cache-line bucket table
;; of docs/design.md §10 with lane states, so that it can delete: the read side
;; (getL), the write side (putL) and deleteL, to price what tombstones and two
;; writers at once would cost a bucket layout (benchmarks/bucket-churn.ts,
;; benchmarks/bucket-contention.ts).
;;
;; Bucket = 64 bytes = 16 words, one cache line, in §10's order (NOT the order
;; of bucket-probe.wat / bucket-put.wat, which put META last):
;;   w0 SEQ (odd = a writer holds the bucket; +2 per release),
;;   w1 META = 7 lane states of 2 bits (lane i at bits 2i..2i+1: 0 EMPTY,
;;      1 FULL, 2 TOMBSTONE) | OVERFLOW (bit 15: a key whose home is this bucket
;;      lives in a later one),
;;   w2..w8 KEYS (bytes 8..35), w9..w15 VALUES (bytes 36..63).
;; Home bucket = (hash * buckets) >> 32. Table header (the library's): SIZE at
;; byte table + 0, REMAINING (inserts into EMPTY lanes left) at table + 64;
;; buckets from table + 128. Epoch word at byte 128 = generation << 2.
;;
;; Invariants the probes rely on (as today's slots): a key keeps its lane for
;; good (keys are immutable while FULL or TOMBSTONE); a lane never becomes EMPTY
;; again (only a migration, not built, drops tombstones); a TOMBSTONE lane of
;; another key is not reusable. OVERFLOW is set only on a bucket without EMPTY
;; lanes, so the chain of a key ends at the first bucket without OVERFLOW, which
;; is also the first bucket of the chain that can have an EMPTY lane: "look for
;; the key in the whole chain, then take the first EMPTY lane" is one walk.
;;
;; Lane masks: a SIMD compare of the 7 keys gives a 7-bit match mask (two
;; overlapping v128 loads at +8 and +20, as getS); the used lanes (FULL or
;; TOMBSTONE) come from META by folding each 2-bit state to 1 bit and packing
;; the 7 bits ($u, written out in each function). Keys of EMPTY lanes are zeros, so the match mask is
;; always masked with the used lanes.
;;
;; getL (k, hash, base = table + 128, buckets, gen) -> f64: the value, READ_MISS
;;   (2^32) or READ_RETRY (2^33), like getS and lib/wasm/read-int32.wat getI32;
;;   a TOMBSTONE lane of the key is a miss; no match and no OVERFLOW is a miss,
;;   else the next bucket; every answer validates the epoch, then SEQ == s1.
;;   v128.load is not atomic: fine on x86-64 (TSO), an arm64 build needs a
;;   fence before the validating SEQ load (bucket-probe.wat getSF).
;; putL (k, hash, v, table, buckets, gen, rec) -> i32: 0 inserted into an EMPTY
;;   lane, 1 overwritten (FULL) or revived (TOMBSTONE -> FULL), 2 SLOW (a bucket
;;   on the walk is locked, the CAS was lost, the epoch moved, or no insert
;;   budget left: nothing changed, the caller retries). `rec` is the byte
;;   address of the caller's writer record (one per thread: 256 + 64 * i), in
;;   the library's layout: ACTIVE_GEN +4, LOCK_AT +8, LOCK_SEQ +12, INTENT +20,
;;   INTENT_TABLE +24, payload +32 (key, value, new META, lane). It pays every
;;   step of bucket-put.wat putS (the library's wasm put): announce the
;;   generation, re-read the epoch, walk, lock intent, CAS SEQ from the value
;;   the walk read (this also proves nothing in the bucket changed since), epoch
;;   re-read, insert budget (REMAINING rmw.sub, only for EMPTY lanes), stage,
;;   commit the intent, apply, SIZE + 1 (insert and revive), release SEQ + 2,
;;   clear the record, go idle. Before it inserts beyond the key's home bucket
;;   it ORs OVERFLOW into each full bucket it passed (rmw.or, where not set).
;;   The new META is computed from the META read before the lock: only a lock
;;   holder changes lane states, and OVERFLOW is only ORed into a bucket with
;;   no EMPTY lane, which this one is not until its lock is released.
;; deleteL (k, hash, table, buckets, gen, rec) -> i32: 0 deleted (FULL ->
;;   TOMBSTONE, SIZE - 1), 1 absent (no lane, or a TOMBSTONE), 2 SLOW; the same
;;   protocol steps as putL without the budget.
(module
  (import "env" "memory" (memory 1 65536 shared))

  (func (export "getL") (param $k i32) (param $hash i32) (param $base i32) (param $n i32) (param $gen i32) (result f64)
    (local $b i32) (local $at i32) (local $s1 i32) (local $meta i32) (local $u i32) (local $m i32) (local $kv v128) (local $lane i32) (local $v i32) (local $steps i32)
    (local.set $kv (i32x4.splat (local.get $k)))
    (local.set $b (i32.wrap_i64 (i64.shr_u (i64.mul (i64.extend_i32_u (local.get $hash)) (i64.extend_i32_u (local.get $n))) (i64.const 32))))
    (local.set $at (i32.add (local.get $base) (i32.shl (local.get $b) (i32.const 6))))
    (block $retry
      (loop $bucket
        (local.set $s1 (i32.atomic.load (local.get $at)))
        (br_if $retry (i32.and (local.get $s1) (i32.const 1)))
        (local.set $meta (i32.atomic.load offset=4 (local.get $at)))
        (local.set $u (i32.and (i32.or (local.get $meta) (i32.shr_u (local.get $meta) (i32.const 1))) (i32.const 0x1555)))
        (local.set $u (i32.and (i32.or (local.get $u) (i32.shr_u (local.get $u) (i32.const 1))) (i32.const 0x3333)))
        (local.set $u (i32.and (i32.or (local.get $u) (i32.shr_u (local.get $u) (i32.const 2))) (i32.const 0x0f0f)))
        (local.set $u (i32.and (i32.or (local.get $u) (i32.shr_u (local.get $u) (i32.const 4))) (i32.const 0x7f)))
        (local.set $m (i32.and (i32.or
          (i32x4.bitmask (i32x4.eq (v128.load offset=8 (local.get $at)) (local.get $kv)))
          (i32.shl (i32x4.bitmask (i32x4.eq (v128.load offset=20 (local.get $at)) (local.get $kv))) (i32.const 3))) (local.get $u)))
        (if (local.get $m)
          (then
            (local.set $lane (i32.ctz (local.get $m)))
            (local.set $v (i32.atomic.load offset=36 (i32.add (local.get $at) (i32.shl (local.get $lane) (i32.const 2)))))
            (br_if $retry (i32.ne (i32.shr_u (i32.atomic.load (i32.const 128)) (i32.const 2)) (local.get $gen)))
            (br_if $retry (i32.ne (i32.atomic.load (local.get $at)) (local.get $s1)))
            ;; FULL (state 1): the value; TOMBSTONE: the key's lane says deleted.
            (if (i32.and (i32.shr_u (local.get $meta) (i32.shl (local.get $lane) (i32.const 1))) (i32.const 1))
              (then (return (f64.convert_i32_s (local.get $v)))))
            (return (f64.const 4294967296))))
        (if (i32.eqz (i32.and (local.get $meta) (i32.const 0x8000)))
          (then
            (br_if $retry (i32.ne (i32.shr_u (i32.atomic.load (i32.const 128)) (i32.const 2)) (local.get $gen)))
            (br_if $retry (i32.ne (i32.atomic.load (local.get $at)) (local.get $s1)))
            (return (f64.const 4294967296))))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (local.set $at (i32.add (local.get $at) (i32.const 64)))
        (if (i32.ge_u (local.get $b) (local.get $n))
          (then (local.set $b (i32.const 0)) (local.set $at (local.get $base))))
        (local.set $steps (i32.add (local.get $steps) (i32.const 1)))
        (br_if $retry (i32.gt_u (local.get $steps) (local.get $n)))
        (br $bucket)))
    (f64.const 8589934592))

  (func (export "putL")
    (param $k i32) (param $hash i32) (param $v i32) (param $table i32) (param $n i32) (param $gen i32) (param $r i32) (result i32)
    (local $epoch i32) (local $b i32) (local $at i32) (local $s i32) (local $meta i32) (local $u i32)
    (local $m i32) (local $kv v128) (local $lane i32) (local $steps i32) (local $result i32)
    (local.set $epoch (i32.shl (local.get $gen) (i32.const 2)))
    (local.set $kv (i32x4.splat (local.get $k)))
    (block $slow
      (i32.atomic.store offset=4 (local.get $r) (i32.add (local.get $gen) (i32.const 1)))
      (br_if $slow (i32.ne (i32.atomic.load (i32.const 128)) (local.get $epoch)))
      (local.set $b (i32.wrap_i64 (i64.shr_u
        (i64.mul (i64.extend_i32_u (local.get $hash)) (i64.extend_i32_u (local.get $n))) (i64.const 32))))
      (local.set $at (i32.add (i32.add (local.get $table) (i32.const 128)) (i32.shl (local.get $b) (i32.const 6))))
      (loop $bucket
        (local.set $s (i32.atomic.load (local.get $at)))
        (br_if $slow (i32.and (local.get $s) (i32.const 1)))
        (local.set $meta (i32.atomic.load offset=4 (local.get $at)))
        (local.set $u (i32.and (i32.or (local.get $meta) (i32.shr_u (local.get $meta) (i32.const 1))) (i32.const 0x1555)))
        (local.set $u (i32.and (i32.or (local.get $u) (i32.shr_u (local.get $u) (i32.const 1))) (i32.const 0x3333)))
        (local.set $u (i32.and (i32.or (local.get $u) (i32.shr_u (local.get $u) (i32.const 2))) (i32.const 0x0f0f)))
        (local.set $u (i32.and (i32.or (local.get $u) (i32.shr_u (local.get $u) (i32.const 4))) (i32.const 0x7f)))
        (local.set $m (i32.and (i32.or
          (i32x4.bitmask (i32x4.eq (v128.load offset=8 (local.get $at)) (local.get $kv)))
          (i32.shl (i32x4.bitmask (i32x4.eq (v128.load offset=20 (local.get $at)) (local.get $kv))) (i32.const 3))) (local.get $u)))
        ;; The key's lane (FULL or TOMBSTONE), or, at the end of its chain, the first EMPTY lane.
        (if (i32.or (local.get $m) (i32.ne (local.get $u) (i32.const 0x7f)))
          (then
            (if (local.get $m)
              (then
                (local.set $lane (i32.ctz (local.get $m)))
                ;; FULL -> overwrite (META unchanged); TOMBSTONE -> revive (state 2 -> 1: xor 3).
                (local.set $result (i32.const 1))
                (if (i32.eqz (i32.and (i32.shr_u (local.get $meta) (i32.shl (local.get $lane) (i32.const 1))) (i32.const 1)))
                  (then
                    (local.set $result (i32.const 3))
                    (local.set $meta (i32.xor (local.get $meta) (i32.shl (i32.const 3) (i32.shl (local.get $lane) (i32.const 1))))))))
              (else
                (local.set $lane (i32.ctz (i32.xor (local.get $u) (i32.const 0x7f))))
                (local.set $result (i32.const 0))
                (local.set $meta (i32.or (local.get $meta) (i32.shl (i32.const 1) (i32.shl (local.get $lane) (i32.const 1)))))))
            (i32.store offset=8 (local.get $r) (i32.shr_u (local.get $at) (i32.const 2)))
            (i32.store offset=12 (local.get $r) (local.get $s))
            (br_if $slow (i32.ne
              (i32.atomic.rmw.cmpxchg (local.get $at) (local.get $s) (i32.or (local.get $s) (i32.const 1)))
              (local.get $s)))
            (if (i32.ne (i32.atomic.load (i32.const 128)) (local.get $epoch))
              (then (i32.atomic.store (local.get $at) (local.get $s)) (br $slow)))
            (if (i32.eqz (local.get $result))
              (then
                (if (i32.le_s (i32.atomic.rmw.sub offset=64 (local.get $table) (i32.const 1)) (i32.const 0))
                  (then
                    (drop (i32.atomic.rmw.add offset=64 (local.get $table) (i32.const 1)))
                    (i32.atomic.store (local.get $at) (local.get $s))
                    (br $slow)))))
            ;; Stage, commit the intent, apply.
            (i32.store offset=32 (local.get $r) (local.get $k))
            (i32.store offset=36 (local.get $r) (local.get $v))
            (i32.store offset=40 (local.get $r) (local.get $meta))
            (i32.store offset=44 (local.get $r) (local.get $lane))
            (i32.store offset=24 (local.get $r) (local.get $table))
            (i32.store offset=20 (local.get $r) (i32.const 1))
            (if (i32.eqz (local.get $result))
              (then (i32.store offset=8 (i32.add (local.get $at) (i32.shl (local.get $lane) (i32.const 2))) (local.get $k))))
            (i32.store offset=36 (i32.add (local.get $at) (i32.shl (local.get $lane) (i32.const 2))) (local.get $v))
            (if (i32.ne (local.get $result) (i32.const 1))
              (then
                (i32.store offset=4 (local.get $at) (local.get $meta))
                (drop (i32.atomic.rmw.add (local.get $table) (i32.const 1)))))
            (i32.atomic.store (local.get $at) (i32.add (local.get $s) (i32.const 2)))
            (i32.store offset=20 (local.get $r) (i32.const 0))
            (i32.store offset=8 (local.get $r) (i32.const 0))
            (i32.atomic.store offset=4 (local.get $r) (i32.const 0))
            (return (select (i32.const 1) (local.get $result) (local.get $result)))))
        ;; Full and without the key: readers of later keys must read on.
        (if (i32.eqz (i32.and (local.get $meta) (i32.const 0x8000)))
          (then (drop (i32.atomic.rmw.or offset=4 (local.get $at) (i32.const 0x8000)))))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (local.set $at (i32.add (local.get $at) (i32.const 64)))
        (if (i32.ge_u (local.get $b) (local.get $n))
          (then (local.set $b (i32.const 0)) (local.set $at (i32.add (local.get $table) (i32.const 128)))))
        (local.set $steps (i32.add (local.get $steps) (i32.const 1)))
        (br_if $slow (i32.gt_u (local.get $steps) (local.get $n)))
        (br $bucket)))
    (i32.atomic.store offset=4 (local.get $r) (i32.const 0))
    (i32.const 2))

  (func (export "deleteL")
    (param $k i32) (param $hash i32) (param $table i32) (param $n i32) (param $gen i32) (param $r i32) (result i32)
    (local $epoch i32) (local $b i32) (local $at i32) (local $s i32) (local $meta i32) (local $u i32)
    (local $m i32) (local $kv v128) (local $lane i32) (local $steps i32)
    (local.set $epoch (i32.shl (local.get $gen) (i32.const 2)))
    (local.set $kv (i32x4.splat (local.get $k)))
    (block $slow
      (i32.atomic.store offset=4 (local.get $r) (i32.add (local.get $gen) (i32.const 1)))
      (br_if $slow (i32.ne (i32.atomic.load (i32.const 128)) (local.get $epoch)))
      (local.set $b (i32.wrap_i64 (i64.shr_u
        (i64.mul (i64.extend_i32_u (local.get $hash)) (i64.extend_i32_u (local.get $n))) (i64.const 32))))
      (local.set $at (i32.add (i32.add (local.get $table) (i32.const 128)) (i32.shl (local.get $b) (i32.const 6))))
      (loop $bucket
        (local.set $s (i32.atomic.load (local.get $at)))
        (br_if $slow (i32.and (local.get $s) (i32.const 1)))
        (local.set $meta (i32.atomic.load offset=4 (local.get $at)))
        (local.set $u (i32.and (i32.or (local.get $meta) (i32.shr_u (local.get $meta) (i32.const 1))) (i32.const 0x1555)))
        (local.set $u (i32.and (i32.or (local.get $u) (i32.shr_u (local.get $u) (i32.const 1))) (i32.const 0x3333)))
        (local.set $u (i32.and (i32.or (local.get $u) (i32.shr_u (local.get $u) (i32.const 2))) (i32.const 0x0f0f)))
        (local.set $u (i32.and (i32.or (local.get $u) (i32.shr_u (local.get $u) (i32.const 4))) (i32.const 0x7f)))
        (local.set $m (i32.and (i32.or
          (i32x4.bitmask (i32x4.eq (v128.load offset=8 (local.get $at)) (local.get $kv)))
          (i32.shl (i32x4.bitmask (i32x4.eq (v128.load offset=20 (local.get $at)) (local.get $kv))) (i32.const 3))) (local.get $u)))
        (if (local.get $m)
          (then
            (local.set $lane (i32.ctz (local.get $m)))
            ;; A TOMBSTONE of the key: absent (nothing to lock).
            (if (i32.eqz (i32.and (i32.shr_u (local.get $meta) (i32.shl (local.get $lane) (i32.const 1))) (i32.const 1)))
              (then
                (br_if $slow (i32.ne (i32.atomic.load (local.get $at)) (local.get $s)))
                (i32.atomic.store offset=4 (local.get $r) (i32.const 0))
                (return (i32.const 1))))
            (local.set $meta (i32.xor (local.get $meta) (i32.shl (i32.const 3) (i32.shl (local.get $lane) (i32.const 1)))))
            (i32.store offset=8 (local.get $r) (i32.shr_u (local.get $at) (i32.const 2)))
            (i32.store offset=12 (local.get $r) (local.get $s))
            (br_if $slow (i32.ne
              (i32.atomic.rmw.cmpxchg (local.get $at) (local.get $s) (i32.or (local.get $s) (i32.const 1)))
              (local.get $s)))
            (if (i32.ne (i32.atomic.load (i32.const 128)) (local.get $epoch))
              (then (i32.atomic.store (local.get $at) (local.get $s)) (br $slow)))
            (i32.store offset=40 (local.get $r) (local.get $meta))
            (i32.store offset=44 (local.get $r) (local.get $lane))
            (i32.store offset=24 (local.get $r) (local.get $table))
            (i32.store offset=20 (local.get $r) (i32.const 2))
            (i32.store offset=4 (local.get $at) (local.get $meta))
            (drop (i32.atomic.rmw.sub (local.get $table) (i32.const 1)))
            (i32.atomic.store (local.get $at) (i32.add (local.get $s) (i32.const 2)))
            (i32.store offset=20 (local.get $r) (i32.const 0))
            (i32.store offset=8 (local.get $r) (i32.const 0))
            (i32.atomic.store offset=4 (local.get $r) (i32.const 0))
            (return (i32.const 0))))
        (if (i32.eqz (i32.and (local.get $meta) (i32.const 0x8000)))
          (then
            ;; End of the chain: absent, if nothing changed under the walk.
            (br_if $slow (i32.ne (i32.atomic.load (local.get $at)) (local.get $s)))
            (i32.atomic.store offset=4 (local.get $r) (i32.const 0))
            (return (i32.const 1))))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (local.set $at (i32.add (local.get $at) (i32.const 64)))
        (if (i32.ge_u (local.get $b) (local.get $n))
          (then (local.set $b (i32.const 0)) (local.set $at (i32.add (local.get $table) (i32.const 128)))))
        (local.set $steps (i32.add (local.get $steps) (i32.const 1)))
        (br_if $slow (i32.gt_u (local.get $steps) (local.get $n)))
        (br $bucket)))
    (i32.atomic.store offset=4 (local.get $r) (i32.const 0))
    (i32.const 2))
)
