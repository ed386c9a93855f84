;; flatshare benchmark prototype (NOT the library): a cache-line bucket table for
;; int32 keys and int32 values, to measure what the next layout version would buy
;; on the int32 get-hit target (benchmarks/buckets.ts, docs/benchmarks.md).
;;
;; Bucket = 64 bytes = 16 words, one cache line:
;;   w0 SEQ (odd = a writer holds the bucket), w1..w7 KEYS, w8..w14 VALUES,
;;   w15 META = count of used slots (bits 0..2) | OVERFLOW (bit 8: an insert
;;   passed this bucket full, so a probe for an absent key must go on).
;; Home bucket = (hash * buckets) >> 32 (any bucket count, not only powers of two).
;; Both functions answer the value as f64, MISS (2^32) or RETRY (2^33), like
;; lib/wasm/read-int32.wat getI32, and validate the same way (epoch word at byte
;; 128 and the bucket seq), so they pay what a real read path pays.
(module
  (import "env" "memory" (memory 1 65536 shared))
  ;; getA: one atomic load per key, in order, as getI32 does.
  (func (export "getA") (param $k i32) (param $hash i32) (param $base i32) (param $n i32) (param $gen i32) (result f64)
    (local $b i32) (local $at i32) (local $s1 i32) (local $meta i32) (local $cnt i32) (local $i i32) (local $p i32) (local $v i32) (local $steps i32)
    (local.set $b (i32.wrap_i64 (i64.shr_u (i64.mul (i64.extend_i32_u (local.get $hash)) (i64.extend_i32_u (local.get $n))) (i64.const 32))))
    (local.set $at (i32.add (local.get $base) (i32.shl (local.get $b) (i32.const 6))))
    (block $retry
      (loop $bucket
        (local.set $s1 (i32.atomic.load (local.get $at)))
        (br_if $retry (i32.and (local.get $s1) (i32.const 1)))
        (local.set $meta (i32.atomic.load offset=60 (local.get $at)))
        (local.set $cnt (i32.and (local.get $meta) (i32.const 7)))
        (local.set $p (local.get $at))
        (local.set $i (i32.const 0))
        (block $notfound
          (loop $scan
            (br_if $notfound (i32.ge_u (local.get $i) (local.get $cnt)))
            (if (i32.eq (i32.atomic.load offset=4 (local.get $p)) (local.get $k))
              (then
                (local.set $v (i32.atomic.load offset=32 (local.get $p)))
                (br_if $retry (i32.ne (i32.shr_u (i32.atomic.load (i32.const 128)) (i32.const 2)) (local.get $gen)))
                (br_if $retry (i32.ne (i32.atomic.load (local.get $at)) (local.get $s1)))
                (return (f64.convert_i32_s (local.get $v)))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (local.set $p (i32.add (local.get $p) (i32.const 4)))
            (br $scan)))
        (if (i32.eqz (i32.and (local.get $meta) (i32.const 256)))
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
  ;; getS: one SIMD compare of the 7 keys. v128.load is not atomic: on arm64 the
  ;; validating seq load (ldar) does not order these loads before it, so a real
  ;; read path would need an atomic.fence there; x86-64 keeps loads in order.
  (func (export "getS") (param $k i32) (param $hash i32) (param $base i32) (param $n i32) (param $gen i32) (result f64)
    (local $b i32) (local $at i32) (local $s1 i32) (local $meta i32) (local $m i32) (local $kv v128) (local $i i32) (local $v i32) (local $steps i32)
    (local.set $kv (i32x4.splat (local.get $k)))
    (local.set $b (i32.wrap_i64 (i64.shr_u (i64.mul (i64.extend_i32_u (local.get $hash)) (i64.extend_i32_u (local.get $n))) (i64.const 32))))
    (local.set $at (i32.add (local.get $base) (i32.shl (local.get $b) (i32.const 6))))
    (block $retry
      (loop $bucket
        (local.set $s1 (i32.atomic.load (local.get $at)))
        (br_if $retry (i32.and (local.get $s1) (i32.const 1)))
        (local.set $meta (i32.atomic.load offset=60 (local.get $at)))
        ;; lanes: load at +4 -> k0..k3 (bits 0..3); load at +16 -> k3..k6 (bits 0..3 -> <<3)
        (local.set $m (i32.and
          (i32.or
            (i32x4.bitmask (i32x4.eq (v128.load offset=4 (local.get $at)) (local.get $kv)))
            (i32.shl (i32x4.bitmask (i32x4.eq (v128.load offset=16 (local.get $at)) (local.get $kv))) (i32.const 3)))
          (i32.sub (i32.shl (i32.const 1) (i32.and (local.get $meta) (i32.const 7))) (i32.const 1))))
        (if (local.get $m)
          (then
            (local.set $i (i32.ctz (local.get $m)))
            (local.set $v (i32.atomic.load offset=32 (i32.add (local.get $at) (i32.shl (local.get $i) (i32.const 2)))))
            (br_if $retry (i32.ne (i32.shr_u (i32.atomic.load (i32.const 128)) (i32.const 2)) (local.get $gen)))
            (br_if $retry (i32.ne (i32.atomic.load (local.get $at)) (local.get $s1)))
            (return (f64.convert_i32_s (local.get $v)))))
        (if (i32.eqz (i32.and (local.get $meta) (i32.const 256)))
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
  ;; getSF: getS with an atomic.fence before each validation: what arm64 needs
  ;; (dmb ish there); on x86-64 V8 emits mfence, which getS does without.
  (func (export "getSF") (param $k i32) (param $hash i32) (param $base i32) (param $n i32) (param $gen i32) (result f64)
    (local $b i32) (local $at i32) (local $s1 i32) (local $meta i32) (local $m i32) (local $kv v128) (local $i i32) (local $v i32) (local $steps i32)
    (local.set $kv (i32x4.splat (local.get $k)))
    (local.set $b (i32.wrap_i64 (i64.shr_u (i64.mul (i64.extend_i32_u (local.get $hash)) (i64.extend_i32_u (local.get $n))) (i64.const 32))))
    (local.set $at (i32.add (local.get $base) (i32.shl (local.get $b) (i32.const 6))))
    (block $retry
      (loop $bucket
        (local.set $s1 (i32.atomic.load (local.get $at)))
        (br_if $retry (i32.and (local.get $s1) (i32.const 1)))
        (local.set $meta (i32.atomic.load offset=60 (local.get $at)))
        ;; lanes: load at +4 -> k0..k3 (bits 0..3); load at +16 -> k3..k6 (bits 0..3 -> <<3)
        (local.set $m (i32.and
          (i32.or
            (i32x4.bitmask (i32x4.eq (v128.load offset=4 (local.get $at)) (local.get $kv)))
            (i32.shl (i32x4.bitmask (i32x4.eq (v128.load offset=16 (local.get $at)) (local.get $kv))) (i32.const 3)))
          (i32.sub (i32.shl (i32.const 1) (i32.and (local.get $meta) (i32.const 7))) (i32.const 1))))
        (if (local.get $m)
          (then
            (local.set $i (i32.ctz (local.get $m)))
            (local.set $v (i32.atomic.load offset=32 (i32.add (local.get $at) (i32.shl (local.get $i) (i32.const 2)))))
            (atomic.fence)
            (br_if $retry (i32.ne (i32.shr_u (i32.atomic.load (i32.const 128)) (i32.const 2)) (local.get $gen)))
            (br_if $retry (i32.ne (i32.atomic.load (local.get $at)) (local.get $s1)))
            (return (f64.convert_i32_s (local.get $v)))))
        (if (i32.eqz (i32.and (local.get $meta) (i32.const 256)))
          (then
            (atomic.fence)
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
  ;; getU: getA unrolled: all 7 keys compared with atomic loads, no loop bound per key
  ;; (a match past the count is ignored), the hit's index leaves through $found.
  (func (export "getU") (param $k i32) (param $hash i32) (param $base i32) (param $n i32) (param $gen i32) (result f64)
    (local $b i32) (local $at i32) (local $s1 i32) (local $meta i32) (local $cnt i32) (local $i i32) (local $v i32) (local $steps i32)
    (local.set $b (i32.wrap_i64 (i64.shr_u (i64.mul (i64.extend_i32_u (local.get $hash)) (i64.extend_i32_u (local.get $n))) (i64.const 32))))
    (local.set $at (i32.add (local.get $base) (i32.shl (local.get $b) (i32.const 6))))
    (block $retry
      (loop $bucket
        (local.set $s1 (i32.atomic.load (local.get $at)))
        (br_if $retry (i32.and (local.get $s1) (i32.const 1)))
        (local.set $meta (i32.atomic.load offset=60 (local.get $at)))
        (local.set $cnt (i32.and (local.get $meta) (i32.const 7)))
        (local.set $i (block $found (result i32)
        (if (i32.and (i32.eq (i32.atomic.load offset=4 (local.get $at)) (local.get $k)) (i32.lt_u (i32.const 0) (local.get $cnt)))
          (then (br $found (i32.const 0))))
        (if (i32.and (i32.eq (i32.atomic.load offset=8 (local.get $at)) (local.get $k)) (i32.lt_u (i32.const 1) (local.get $cnt)))
          (then (br $found (i32.const 1))))
        (if (i32.and (i32.eq (i32.atomic.load offset=12 (local.get $at)) (local.get $k)) (i32.lt_u (i32.const 2) (local.get $cnt)))
          (then (br $found (i32.const 2))))
        (if (i32.and (i32.eq (i32.atomic.load offset=16 (local.get $at)) (local.get $k)) (i32.lt_u (i32.const 3) (local.get $cnt)))
          (then (br $found (i32.const 3))))
        (if (i32.and (i32.eq (i32.atomic.load offset=20 (local.get $at)) (local.get $k)) (i32.lt_u (i32.const 4) (local.get $cnt)))
          (then (br $found (i32.const 4))))
        (if (i32.and (i32.eq (i32.atomic.load offset=24 (local.get $at)) (local.get $k)) (i32.lt_u (i32.const 5) (local.get $cnt)))
          (then (br $found (i32.const 5))))
        (if (i32.and (i32.eq (i32.atomic.load offset=28 (local.get $at)) (local.get $k)) (i32.lt_u (i32.const 6) (local.get $cnt)))
          (then (br $found (i32.const 6))))
        (i32.const -1)))
        (if (i32.ge_s (local.get $i) (i32.const 0))
          (then
            (local.set $v (i32.atomic.load offset=32 (i32.add (local.get $at) (i32.shl (local.get $i) (i32.const 2)))))
            (br_if $retry (i32.ne (i32.shr_u (i32.atomic.load (i32.const 128)) (i32.const 2)) (local.get $gen)))
            (br_if $retry (i32.ne (i32.atomic.load (local.get $at)) (local.get $s1)))
            (return (f64.convert_i32_s (local.get $v)))))
        (if (i32.eqz (i32.and (local.get $meta) (i32.const 256)))
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
)
