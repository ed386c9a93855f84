;; flatshare benchmark prototype (NOT the library): the write side of the
;; cache-line bucket table of bucket-probe.wat, to price what a bucket layout
;; would cost `set` (benchmarks/bucket-writes.ts, docs/design.md §10).
;;
;; Bucket = 64 bytes = 16 words: w0 SEQ (odd = a writer holds the bucket),
;; w1..w7 KEYS, w8..w14 VALUES, w15 META = count of used lanes (bits 0..2) |
;; OVERFLOW (bit 8: an insert passed this bucket full). No deletes here, so the
;; lanes of a bucket fill in order and the first bucket with a free lane ends
;; every probe chain.
;;
;; putS pays every step that lib/wasm/write-int32.wat's $put pays, against a
;; writer record at byte 256 of the same memory (the library's layout: ACTIVE_GEN
;; +4, LOCK_AT +8, LOCK_SEQ +12, INTENT +20, INTENT_TABLE +24, payload +32..):
;; announce the generation and re-read the epoch; probe (one SIMD compare of the
;; 7 keys per bucket, as getS); lock intent (two plain stores); CAS the bucket's
;; SEQ; re-read the epoch; for an insert one unit of the insert budget
;; (REMAINING, rmw.sub); stage key, value and new META in the record; commit the
;; intent; apply; SIZE + 1 (rmw.add); release (SEQ + 2); clear the record; go
;; idle. Before it inserts beyond its home bucket it sets OVERFLOW in each full
;; bucket it passed (rmw.or, only where not set yet).
;; Table header (the library's): SIZE at byte tableBase + 0, REMAINING at + 64;
;; buckets from tableBase + 128. Epoch word at byte 128, generation << 2.
;; Returns 0 (inserted), 1 (overwritten), 2 (slow: the caller would retry).
(module
  (import "env" "memory" (memory 1 65536 shared))
  (func (export "putS")
    (param $k i32) (param $hash i32) (param $v i32) (param $table i32) (param $n i32) (param $gen i32) (result i32)
    (local $epoch i32) (local $r i32) (local $b i32) (local $at i32) (local $s i32) (local $meta i32)
    (local $m i32) (local $kv v128) (local $lane i32) (local $steps i32) (local $result i32)
    (local.set $r (i32.const 256))
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
        (local.set $meta (i32.atomic.load offset=60 (local.get $at)))
        (local.set $m (i32.and
          (i32.or
            (i32x4.bitmask (i32x4.eq (v128.load offset=4 (local.get $at)) (local.get $kv)))
            (i32.shl (i32x4.bitmask (i32x4.eq (v128.load offset=16 (local.get $at)) (local.get $kv))) (i32.const 3)))
          (i32.sub (i32.shl (i32.const 1) (i32.and (local.get $meta) (i32.const 7))) (i32.const 1))))
        (if (i32.or (local.get $m) (i32.lt_u (i32.and (local.get $meta) (i32.const 7)) (i32.const 7)))
          (then
            ;; This bucket: the key's lane, or the first free one.
            (local.set $lane (select (i32.ctz (local.get $m)) (i32.and (local.get $meta) (i32.const 7)) (local.get $m)))
            (local.set $result (select (i32.const 1) (i32.const 0) (local.get $m)))
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
                    (br $slow)))
                (local.set $meta (i32.add (local.get $meta) (i32.const 1)))))
            ;; Stage, commit the intent, apply.
            (i32.store offset=32 (local.get $r) (local.get $k))
            (i32.store offset=36 (local.get $r) (local.get $v))
            (i32.store offset=40 (local.get $r) (local.get $meta))
            (i32.store offset=24 (local.get $r) (local.get $table))
            (i32.store offset=20 (local.get $r) (i32.const 1))
            (i32.store offset=4 (i32.add (local.get $at) (i32.shl (local.get $lane) (i32.const 2))) (local.get $k))
            (i32.store offset=32 (i32.add (local.get $at) (i32.shl (local.get $lane) (i32.const 2))) (local.get $v))
            (i32.store offset=60 (local.get $at) (local.get $meta))
            (if (i32.eqz (local.get $result))
              (then (drop (i32.atomic.rmw.add (local.get $table) (i32.const 1)))))
            (i32.atomic.store (local.get $at) (i32.add (local.get $s) (i32.const 2)))
            (i32.store offset=20 (local.get $r) (i32.const 0))
            (i32.store offset=8 (local.get $r) (i32.const 0))
            (i32.atomic.store offset=4 (local.get $r) (i32.const 0))
            (return (local.get $result))))
        ;; Full and without the key: readers of later keys must read on.
        (if (i32.eqz (i32.and (local.get $meta) (i32.const 256)))
          (then (drop (i32.atomic.rmw.or offset=60 (local.get $at) (i32.const 256)))))
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
