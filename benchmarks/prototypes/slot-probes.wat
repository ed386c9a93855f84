;; flatshare benchmark prototype (NOT the library): three other ways to probe an
;; int32 -> int32 table that keeps a seqlock word per slot, to measure whether
;; any of them buys the int32 get-hit target (benchmarks/probes.ts,
;; docs/design.md §4 "Probe shapes that keep a seq word per slot").
;;
;; All three answer the value as f64, MISS (2^32) or RETRY (2^33) and validate
;; like lib/wasm/read-int32.wat getI32 (epoch word at byte 128, then the slot's
;; seq word again), and take its five arguments (k, hash, slots, capacity, gen).
;; Key and value loads are plain, as in the x86-64 (tso) build of getI32.
;;
;; getB and getG read the library's own table (slots of 12 bytes:
;; seq, key, value; lib/layout.ts) and look at 4 consecutive slots per step,
;; starting at the home slot, without a branch per slot:
;; - getB: 4 seq loads + 4 key loads, a stop mask (locked | EMPTY | key match),
;;   then ctz. Only a slot that is not one of the four is a second step.
;; - getG: the same 48 bytes as 3 v128 loads; i32x4.eq against the key and
;;   against FULL / TOMBSTONE, then the key lanes (1, 4, 7, 10) and seq lanes
;;   (0, 3, 6, 9) picked out of the three bitmasks.
;; A lane past the last slot is masked off (the wrap starts at slot 0); the
;; words read past the last slot lie in the region's chunk states (never out
;; of the region).
;;
;; getV reads a table of another layout ("SoA4", built by benchmarks/probes.ts):
;; blocks of 4 slots, 48 bytes = [4 seq words][4 keys][4 values], so one v128
;; load gives 4 seqs and one 4 keys. The home slot's lane and later lanes of
;; its block are examined first, then whole blocks.
(module
  (import "env" "memory" (memory 1 65536 shared))

  ;; getB: AoS, 4 slots per step, scalar loads, one stop mask.
  (func (export "getB") (param $k i32) (param $hash i32) (param $slots i32) (param $capacity i32) (param $gen i32) (result f64)
    (local $slot i32) (local $first i32) (local $wrapped i32) (local $at i32) (local $s i32) (local $m i32) (local $lanes i32) (local $lane i32) (local $v i32) (local $t i32)
    (local.set $slot (i32.wrap_i64 (i64.shr_u (i64.mul (i64.extend_i32_u (local.get $hash)) (i64.extend_i32_u (local.get $capacity))) (i64.const 32))))
    (local.set $first (i32.shl (local.get $slots) (i32.const 2)))
    (local.set $at (i32.add (local.get $first) (i32.mul (local.get $slot) (i32.const 12))))
    (block $retry
      (loop $probe
        ;; stop bit per slot: locked | empty | key match
        (local.set $s (i32.atomic.load (local.get $at)))
        (local.set $m (i32.or (i32.or (i32.and (local.get $s) (i32.const 1)) (i32.eqz (i32.and (local.get $s) (i32.const 6)))) (i32.eq (i32.load offset=4 (local.get $at)) (local.get $k))))
        (local.set $s (i32.atomic.load offset=12 (local.get $at)))
        (local.set $m (i32.or (local.get $m) (i32.shl (i32.or (i32.or (i32.and (local.get $s) (i32.const 1)) (i32.eqz (i32.and (local.get $s) (i32.const 6)))) (i32.eq (i32.load offset=16 (local.get $at)) (local.get $k))) (i32.const 1))))
        (local.set $s (i32.atomic.load offset=24 (local.get $at)))
        (local.set $m (i32.or (local.get $m) (i32.shl (i32.or (i32.or (i32.and (local.get $s) (i32.const 1)) (i32.eqz (i32.and (local.get $s) (i32.const 6)))) (i32.eq (i32.load offset=28 (local.get $at)) (local.get $k))) (i32.const 2))))
        (local.set $s (i32.atomic.load offset=36 (local.get $at)))
        (local.set $m (i32.or (local.get $m) (i32.shl (i32.or (i32.or (i32.and (local.get $s) (i32.const 1)) (i32.eqz (i32.and (local.get $s) (i32.const 6)))) (i32.eq (i32.load offset=40 (local.get $at)) (local.get $k))) (i32.const 3))))
        (local.set $lanes (i32.sub (local.get $capacity) (local.get $slot)))
        (if (i32.lt_u (local.get $lanes) (i32.const 4))
          (then (local.set $m (i32.and (local.get $m) (i32.sub (i32.shl (i32.const 1) (local.get $lanes)) (i32.const 1))))))
        (if (local.get $m)
          (then
            (local.set $lane (i32.ctz (local.get $m)))
            (local.set $at (i32.add (local.get $at) (i32.mul (local.get $lane) (i32.const 12))))
            (local.set $s (i32.atomic.load (local.get $at)))
            (br_if $retry (i32.and (local.get $s) (i32.const 1)))
            (if (i32.eqz (i32.and (local.get $s) (i32.const 6)))
              (then
                (br_if $retry (i32.ne (i32.shr_u (i32.atomic.load (i32.const 128)) (i32.const 2)) (local.get $gen)))
                (br_if $retry (i32.ne (i32.atomic.load (local.get $at)) (local.get $s)))
                (return (f64.const 4294967296))))
            (br_if $retry (i32.ne (i32.load offset=4 (local.get $at)) (local.get $k)))
            (local.set $v (i32.load offset=8 (local.get $at)))
            (br_if $retry (i32.ne (i32.shr_u (i32.atomic.load (i32.const 128)) (i32.const 2)) (local.get $gen)))
            (br_if $retry (i32.ne (i32.atomic.load (local.get $at)) (local.get $s)))
            (if (i32.eq (i32.and (local.get $s) (i32.const 6)) (i32.const 4)) (then (return (f64.const 4294967296))))
            (return (f64.convert_i32_s (local.get $v)))))
        (local.set $slot (i32.add (local.get $slot) (i32.const 4)))
        (local.set $at (i32.add (local.get $at) (i32.const 48)))
        (if (i32.ge_u (local.get $slot) (local.get $capacity))
          (then
            (br_if $retry (local.get $wrapped))
            (local.set $wrapped (i32.const 1))
            (local.set $slot (i32.const 0))
            (local.set $at (local.get $first))))
        (br $probe)))
    (f64.const 8589934592))

  ;; getG: AoS, 4 slots per step, 3 v128 loads.
  (func (export "getG") (param $k i32) (param $hash i32) (param $slots i32) (param $capacity i32) (param $gen i32) (result f64)
    (local $slot i32) (local $first i32) (local $wrapped i32) (local $at i32) (local $s i32) (local $m i32) (local $lanes i32) (local $lane i32) (local $v i32)
    (local $kv v128) (local $a v128) (local $b v128) (local $c v128) (local $e0 i32) (local $e1 i32) (local $e2 i32) (local $l0 i32) (local $l1 i32) (local $l2 i32)
    (local.set $slot (i32.wrap_i64 (i64.shr_u (i64.mul (i64.extend_i32_u (local.get $hash)) (i64.extend_i32_u (local.get $capacity))) (i64.const 32))))
    (local.set $first (i32.shl (local.get $slots) (i32.const 2)))
    (local.set $at (i32.add (local.get $first) (i32.mul (local.get $slot) (i32.const 12))))
    (local.set $kv (i32x4.splat (local.get $k)))
    (block $retry
      (loop $probe
        (local.set $a (v128.load (local.get $at)))
        (local.set $b (v128.load offset=16 (local.get $at)))
        (local.set $c (v128.load offset=32 (local.get $at)))
        (local.set $e0 (i32x4.bitmask (i32x4.eq (local.get $a) (local.get $kv))))
        (local.set $e1 (i32x4.bitmask (i32x4.eq (local.get $b) (local.get $kv))))
        (local.set $e2 (i32x4.bitmask (i32x4.eq (local.get $c) (local.get $kv))))
        ;; live = (s & 7) is FULL (2) or TOMBSTONE (4)
        (local.set $a (v128.and (local.get $a) (i32x4.splat (i32.const 7))))
        (local.set $b (v128.and (local.get $b) (i32x4.splat (i32.const 7))))
        (local.set $c (v128.and (local.get $c) (i32x4.splat (i32.const 7))))
        (local.set $l0 (i32x4.bitmask (v128.or (i32x4.eq (local.get $a) (i32x4.splat (i32.const 2))) (i32x4.eq (local.get $a) (i32x4.splat (i32.const 4))))))
        (local.set $l1 (i32x4.bitmask (v128.or (i32x4.eq (local.get $b) (i32x4.splat (i32.const 2))) (i32x4.eq (local.get $b) (i32x4.splat (i32.const 4))))))
        (local.set $l2 (i32x4.bitmask (v128.or (i32x4.eq (local.get $c) (i32x4.splat (i32.const 2))) (i32x4.eq (local.get $c) (i32x4.splat (i32.const 4))))))
        ;; keys: k0 = a.1, k1 = b.0, k2 = b.3, k3 = c.2; seqs: s0 = a.0, s1 = a.3, s2 = b.2, s3 = c.1
        (local.set $m (i32.or
          (i32.or (i32.and (i32.shr_u (local.get $e0) (i32.const 1)) (i32.const 1)) (i32.and (i32.shl (local.get $e1) (i32.const 1)) (i32.const 2)))
          (i32.or (i32.and (i32.shr_u (local.get $e1) (i32.const 1)) (i32.const 4)) (i32.and (i32.shl (local.get $e2) (i32.const 1)) (i32.const 8)))))
        (local.set $v (i32.or
          (i32.or (i32.and (local.get $l0) (i32.const 1)) (i32.and (i32.shr_u (local.get $l0) (i32.const 2)) (i32.const 2)))
          (i32.or (i32.and (local.get $l1) (i32.const 4)) (i32.and (i32.shl (local.get $l2) (i32.const 2)) (i32.const 8)))))
        (local.set $m (i32.and (i32.or (local.get $m) (i32.xor (local.get $v) (i32.const 15))) (i32.const 15)))
        (local.set $lanes (i32.sub (local.get $capacity) (local.get $slot)))
        (if (i32.lt_u (local.get $lanes) (i32.const 4))
          (then (local.set $m (i32.and (local.get $m) (i32.sub (i32.shl (i32.const 1) (local.get $lanes)) (i32.const 1))))))
        (if (local.get $m)
          (then
            (local.set $lane (i32.ctz (local.get $m)))
            (local.set $at (i32.add (local.get $at) (i32.mul (local.get $lane) (i32.const 12))))
            (local.set $s (i32.atomic.load (local.get $at)))
            (br_if $retry (i32.and (local.get $s) (i32.const 1)))
            (if (i32.eqz (i32.and (local.get $s) (i32.const 6)))
              (then
                (br_if $retry (i32.ne (i32.shr_u (i32.atomic.load (i32.const 128)) (i32.const 2)) (local.get $gen)))
                (br_if $retry (i32.ne (i32.atomic.load (local.get $at)) (local.get $s)))
                (return (f64.const 4294967296))))
            (br_if $retry (i32.ne (i32.load offset=4 (local.get $at)) (local.get $k)))
            (local.set $v (i32.load offset=8 (local.get $at)))
            (br_if $retry (i32.ne (i32.shr_u (i32.atomic.load (i32.const 128)) (i32.const 2)) (local.get $gen)))
            (br_if $retry (i32.ne (i32.atomic.load (local.get $at)) (local.get $s)))
            (if (i32.eq (i32.and (local.get $s) (i32.const 6)) (i32.const 4)) (then (return (f64.const 4294967296))))
            (return (f64.convert_i32_s (local.get $v)))))
        (local.set $slot (i32.add (local.get $slot) (i32.const 4)))
        (local.set $at (i32.add (local.get $at) (i32.const 48)))
        (if (i32.ge_u (local.get $slot) (local.get $capacity))
          (then
            (br_if $retry (local.get $wrapped))
            (local.set $wrapped (i32.const 1))
            (local.set $slot (i32.const 0))
            (local.set $at (local.get $first))))
        (br $probe)))
    (f64.const 8589934592))

  ;; getV: SoA4 blocks, 4 slots per v128 load.
  (func (export "getV") (param $k i32) (param $hash i32) (param $slots i32) (param $capacity i32) (param $gen i32) (result f64)
    (local $slot i32) (local $at i32) (local $kv v128) (local $seqs v128) (local $start i32)
    (local $eq i32) (local $empty i32) (local $locked i32) (local $stop i32) (local $lane i32) (local $s1 i32) (local $v i32) (local $wrapped i32) (local $lat i32) (local $first i32)
    (local.set $slot (i32.wrap_i64 (i64.shr_u (i64.mul (i64.extend_i32_u (local.get $hash)) (i64.extend_i32_u (local.get $capacity))) (i64.const 32))))
    (local.set $kv (i32x4.splat (local.get $k)))
    (local.set $start (i32.shl (i32.const 15) (i32.and (local.get $slot) (i32.const 3))))
    (local.set $first (i32.shl (local.get $slots) (i32.const 2)))
    (local.set $at (i32.add (local.get $first) (i32.mul (i32.shr_u (local.get $slot) (i32.const 2)) (i32.const 48))))
    (block $retry
      (loop $probe
        (local.set $seqs (v128.load (local.get $at)))
        (local.set $eq (i32x4.bitmask (i32x4.eq (v128.load offset=16 (local.get $at)) (local.get $kv))))
        (local.set $empty (i32x4.bitmask (i32x4.eq (v128.and (local.get $seqs) (i32x4.splat (i32.const 6))) (v128.const i32x4 0 0 0 0))))
        (local.set $locked (i32x4.bitmask (i32x4.shl (local.get $seqs) (i32.const 31))))
        (local.set $stop (i32.and (local.get $start) (i32.or (i32.or (local.get $eq) (local.get $empty)) (local.get $locked))))
        (if (local.get $stop)
          (then
            (local.set $lane (i32.ctz (local.get $stop)))
            (local.set $lat (i32.add (local.get $at) (i32.shl (local.get $lane) (i32.const 2))))
            (local.set $s1 (i32.load (local.get $lat)))
            ;; re-read s1 scalar from the same position: equals the lane of $seqs unless it moved (then validation fails)
            (br_if $retry (i32.and (local.get $s1) (i32.const 1)))
            (br_if $retry (i32.and (i32.shr_u (local.get $locked) (local.get $lane)) (i32.const 1)))
            (if (i32.and (i32.shr_u (local.get $empty) (local.get $lane)) (i32.const 1))
              (then
                (br_if $retry (i32.ne (i32.shr_u (i32.atomic.load (i32.const 128)) (i32.const 2)) (local.get $gen)))
                (br_if $retry (i32.ne (i32.atomic.load (local.get $lat)) (local.get $s1)))
                (return (f64.const 4294967296))))
            (local.set $v (i32.load offset=32 (local.get $lat)))
            (br_if $retry (i32.ne (i32.shr_u (i32.atomic.load (i32.const 128)) (i32.const 2)) (local.get $gen)))
            (br_if $retry (i32.ne (i32.atomic.load (local.get $lat)) (local.get $s1)))
            (if (i32.eq (i32.and (local.get $s1) (i32.const 6)) (i32.const 4)) (then (return (f64.const 4294967296))))
            (return (f64.convert_i32_s (local.get $v)))))
        (local.set $start (i32.const 15))
        (local.set $slot (i32.add (i32.or (local.get $slot) (i32.const 3)) (i32.const 1)))
        (local.set $at (i32.add (local.get $at) (i32.const 48)))
        (if (i32.ge_u (local.get $slot) (local.get $capacity))
          (then
            (br_if $retry (local.get $wrapped))
            (local.set $wrapped (i32.const 1))
            (local.set $slot (i32.const 0))
            (local.set $at (local.get $first))))
        (br $probe)))
    (f64.const 8589934592))
)
