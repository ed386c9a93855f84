;; flatshare layout 6: the int32-key read path over cache-line buckets
;; (SharedFlatMap.get / has for int32 keys with int32 or float64 values), in
;; WebAssembly. Bucket layout and protocol: lib/bucket.ts, docs/layout6.md.
;;
;; Bucket = 64 bytes, line-aligned: SEQ (byte 0), META (byte 4), then the lanes
;; in columns. int32 -> int32 (getI32): 7 lanes, keys at bytes 8..35, values at
;; 36..63. int32 -> float64 (getF64): 4 lanes, keys at 8..23, low value words
;; at 24..39, high words at 40..55 (56..63 unused).
;; META: OCCUPIED bits 0..6, TOMBSTONE bits 8..14, OVERFLOW bit 16.
;;
;; Readers (never store to the shared memory):
;;   home bucket floor(hash * buckets / 2^32) (one i64.mul; lib/table.ts homeSlot);
;;   s1 = atomic load of SEQ; odd -> RETRY (a writer holds the bucket);
;;   meta = META; the key against every key word at once (v128 compares), kept
;;   only for OCCUPIED lanes; a match in lane l: its value words; then
;;   validate: the epoch's generation is `gen` and SEQ == s1, else RETRY;
;;   TOMBSTONE(l) -> MISS, else the value;
;;   no match: OVERFLOW -> the next bucket (reading on needs no validation);
;;   else validate as above and answer MISS;
;;   a second wrap past the last bucket -> RETRY (the caller's table is stale:
;;   a live table always has a bucket without OVERFLOW, because a bucket with
;;   an EMPTY lane is never walked past and the insert budget keeps one).
;;
;; Memory ordering: this file is the build for weakly ordered CPUs. Its SEQ,
;; META, value and epoch loads are atomic (sequentially consistent), but a
;; `v128.load` is a plain load, which arm64 may perform after a later acquire
;; load; so an `atomic.fence` precedes every validation, and the key words are
;; read before it. x86-64 runs read-bucket-tso (DERIVED in
;; scripts/build-wasm.mjs): payload loads (`i32.atomic.load offset=N`: META and
;; value words) plain and no fences. TSO never performs a load before an older
;; load, and V8 emits wasm loads in program order, so every payload load still
;; happens before the validating SEQ load (docs/design.md, "Memory ordering").
;;
;; Results: getI32 returns the value as f64, READ_MISS (2^32) or READ_RETRY
;; (2^33), as read-int32.wat. getF64 returns STATUS_MISS 0, STATUS_HIT 1 (the
;; value in lastF64()) or STATUS_RETRY 2.
;;
;; Layout constants (spec/unit/bucket-read-path.test.ts checks each against lib/):
;; const EPOCH_BYTES = 128         ;; H_EPOCH * 4
;; const GEN_SHIFT = 2             ;; epoch.ts
;; const BUCKET_SHIFT = 6          ;; log2(BUCKET_INTS * 4)
;; const META_BYTES = 4            ;; B_META * 4
;; const KEYS_BYTES = 8            ;; B_LANES * 4: column 0
;; const I32_LANES = 7             ;; lanesFor(2)
;; const I32_VALUES_BYTES = 36     ;; (B_LANES + I32_LANES) * 4: column 1
;; const F64_LANES = 4             ;; lanesFor(3)
;; const F64_LOW_BYTES = 24        ;; (B_LANES + F64_LANES) * 4
;; const F64_HIGH_BYTES = 40       ;; (B_LANES + 2 * F64_LANES) * 4
;; const I32_LANE_MASK = 127       ;; laneMask(7)
;; const F64_LANE_MASK = 15        ;; laneMask(4)
;; const TOMBSTONE_SHIFT = 8
;; const OVERFLOW = 65536
(module
  (import "env" "memory" (memory 1 65536 shared))

  (global $f64 (mut f64) (f64.const 0))

  (func (export "getI32")
    (param $k i32) (param $hash i32) (param $first i32) (param $buckets i32) (param $gen i32) (result f64)
    (local $b i32) (local $base i32) (local $at i32) (local $wrapped i32)
    (local $s1 i32) (local $meta i32) (local $m i32) (local $lane i32) (local $v i32) (local $kv v128)
    (local.set $b (i32.wrap_i64 (i64.shr_u
      (i64.mul (i64.extend_i32_u (local.get $hash)) (i64.extend_i32_u (local.get $buckets)))
      (i64.const 32))))
    (local.set $base (i32.shl (local.get $first) (i32.const 2)))
    (local.set $at (i32.add (local.get $base) (i32.shl (local.get $b) (i32.const 6))))
    (local.set $kv (i32x4.splat (local.get $k)))
    (block $retry
      (loop $probe
        (local.set $s1 (i32.atomic.load (local.get $at)))
        (br_if $retry (i32.and (local.get $s1) (i32.const 1)))
        (local.set $meta (i32.atomic.load offset=4 (local.get $at)))
        (local.set $m (i32.and
          (i32.or
            (i32x4.bitmask (i32x4.eq (v128.load offset=8 (local.get $at)) (local.get $kv)))
            (i32.shl (i32x4.bitmask (i32x4.eq (v128.load offset=24 (local.get $at)) (local.get $kv))) (i32.const 4)))
          (i32.and (local.get $meta) (i32.const 127))))
        (if (local.get $m)
          (then
            (local.set $lane (i32.ctz (local.get $m)))
            (local.set $v (i32.atomic.load offset=36 (i32.add (local.get $at) (i32.shl (local.get $lane) (i32.const 2)))))
            (atomic.fence)
            (br_if $retry (i32.ne (i32.shr_u (i32.atomic.load (i32.const 128)) (i32.const 2)) (local.get $gen)))
            (br_if $retry (i32.ne (i32.atomic.load (local.get $at)) (local.get $s1)))
            (if (i32.and (i32.shr_u (local.get $meta) (i32.add (local.get $lane) (i32.const 8))) (i32.const 1))
              (then (return (f64.const 4294967296))))
            (return (f64.convert_i32_s (local.get $v)))))
        (if (i32.eqz (i32.and (local.get $meta) (i32.const 65536)))
          (then
            (atomic.fence)
            (br_if $retry (i32.ne (i32.shr_u (i32.atomic.load (i32.const 128)) (i32.const 2)) (local.get $gen)))
            (br_if $retry (i32.ne (i32.atomic.load (local.get $at)) (local.get $s1)))
            (return (f64.const 4294967296))))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (local.set $at (i32.add (local.get $at) (i32.const 64)))
        (if (i32.ge_u (local.get $b) (local.get $buckets))
          (then
            (br_if $retry (local.get $wrapped))
            (local.set $wrapped (i32.const 1))
            (local.set $b (i32.const 0))
            (local.set $at (local.get $base))))
        (br $probe)))
    (f64.const 8589934592))

  (func (export "getF64")
    (param $k i32) (param $hash i32) (param $first i32) (param $buckets i32) (param $gen i32) (result i32)
    (local $b i32) (local $base i32) (local $at i32) (local $wrapped i32)
    (local $s1 i32) (local $meta i32) (local $m i32) (local $lane i32) (local $lo i32) (local $hi i32)
    (local.set $b (i32.wrap_i64 (i64.shr_u
      (i64.mul (i64.extend_i32_u (local.get $hash)) (i64.extend_i32_u (local.get $buckets)))
      (i64.const 32))))
    (local.set $base (i32.shl (local.get $first) (i32.const 2)))
    (local.set $at (i32.add (local.get $base) (i32.shl (local.get $b) (i32.const 6))))
    (block $retry
      (loop $probe
        (local.set $s1 (i32.atomic.load (local.get $at)))
        (br_if $retry (i32.and (local.get $s1) (i32.const 1)))
        (local.set $meta (i32.atomic.load offset=4 (local.get $at)))
        (local.set $m (i32.and
          (i32x4.bitmask (i32x4.eq (v128.load offset=8 (local.get $at)) (i32x4.splat (local.get $k))))
          (i32.and (local.get $meta) (i32.const 15))))
        (if (local.get $m)
          (then
            (local.set $lane (i32.shl (i32.ctz (local.get $m)) (i32.const 2)))
            (local.set $lo (i32.atomic.load offset=24 (i32.add (local.get $at) (local.get $lane))))
            (local.set $hi (i32.atomic.load offset=40 (i32.add (local.get $at) (local.get $lane))))
            (atomic.fence)
            (br_if $retry (i32.ne (i32.shr_u (i32.atomic.load (i32.const 128)) (i32.const 2)) (local.get $gen)))
            (br_if $retry (i32.ne (i32.atomic.load (local.get $at)) (local.get $s1)))
            (if (i32.and (i32.shr_u (local.get $meta) (i32.add (i32.ctz (local.get $m)) (i32.const 8))) (i32.const 1))
              (then (return (i32.const 0))))
            (global.set $f64 (f64.reinterpret_i64 (i64.or
              (i64.extend_i32_u (local.get $lo))
              (i64.shl (i64.extend_i32_u (local.get $hi)) (i64.const 32)))))
            (return (i32.const 1))))
        (if (i32.eqz (i32.and (local.get $meta) (i32.const 65536)))
          (then
            (atomic.fence)
            (br_if $retry (i32.ne (i32.shr_u (i32.atomic.load (i32.const 128)) (i32.const 2)) (local.get $gen)))
            (br_if $retry (i32.ne (i32.atomic.load (local.get $at)) (local.get $s1)))
            (return (i32.const 0))))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (local.set $at (i32.add (local.get $at) (i32.const 64)))
        (if (i32.ge_u (local.get $b) (local.get $buckets))
          (then
            (br_if $retry (local.get $wrapped))
            (local.set $wrapped (i32.const 1))
            (local.set $b (i32.const 0))
            (local.set $at (local.get $base))))
        (br $probe)))
    (i32.const 2))

  (func (export "lastF64") (result f64) (global.get $f64))
)
