;; flatshare: the int32-key read path (SharedFlatMap.get / has for int32 keys
;; with int32 or float64 values), in WebAssembly.
;;
;; Why WebAssembly: a wasm `i32.atomic.load` is a sequentially consistent
;; load that V8 compiles to a plain `mov` on x86-64 and to `ldar` on arm64,
;; while a JS `Atomics.load` is a builtin call of 7-8 ns on Node 20. So this
;; loop reads EVERY word of the seqlock window (seq, key, value, epoch, seq
;; again) with atomic loads, which is what the memory model needs on every
;; CPU, and is still faster than the JS loop that read them with plain loads
;; (docs/design.md, "The int32 read path"). The module imports the map's
;; shared memory; it never stores to it (readers never write shared memory).
;; x86-64 runs a build derived from this file (read-int32-tso, DERIVED in
;; scripts/build-wasm.mjs) whose payload loads (`i32.atomic.load offset=N`: key
;; and value words) are plain; seq and epoch loads, which carry no offset, stay
;; atomic. TSO keeps those plain loads before the validating one, and they skip
;; the alignment check V8 puts before every atomic access (lib/wasm/read-path.ts).
;;
;; Protocol (lib/seqlock.ts, lib/epoch.ts): probe from the home slot
;;   floor(hash * capacity / 2^32) (one i64.mul; lib/table.ts homeSlot);
;;   s1 = load seq; odd -> RETRY (a writer holds the slot);
;;   state EMPTY -> validate -> MISS;
;;   FULL/TOMBSTONE with another key -> next slot, no validation (a slot's key
;;   never changes in its table);
;;   this key -> load value words -> validate -> TOMBSTONE: MISS, FULL: value.
;;   validate = generation of the epoch word == gen (the caller's cached table
;;   is still the current one) AND load seq == s1 (no writer in between).
;; Every index is bounded by the caller's table geometry (slot < capacity), and
;; the memory never shrinks, so a stale geometry reads stale words, never out
;; of range; the generation check rejects what it read. A probe that wraps
;; from the last slot to slot 0 a second time has seen every slot without an
;; EMPTY one (a live table always keeps one; a stale geometry need not) and
;; answers RETRY, so no probe runs forever.
;; The loop steps a byte address and a slot number together (no multiply per
;; probe, no per-probe counter): 1.10-1.15x -> 1.00-1.03x Map.get for 100k
;; int32 get hits together with the JS side of SharedFlatMap.get (docs/design.md §4).
;; Five arguments, not seven: each function serves one slot size (getI32 only
;; int32 -> int32 maps, getF64 only int32 -> float64 maps), so the slot size is
;; a constant, and the capacity bounds the slot index. Dropping the two arguments
;; measured 1.012-1.053x -> 0.933-1.024x Map.get at 100k (design.md §4).
;;
;; Layout constants (spec/unit/wasm-read-path.test.ts checks each against lib/):
;; const EPOCH_BYTES = 128      ;; H_EPOCH * 4
;; const GEN_SHIFT = 2          ;; epoch.ts
;; const LOCKED = 1             ;; seqlock.ts
;; const STATE_MASK = 6         ;; seqlock.ts
;; const EMPTY = 0              ;; seqlock.ts
;; const TOMBSTONE = 4          ;; seqlock.ts
;; const KEY_BYTES = 4          ;; S_KEY * 4
;; const VALUE_BYTES = 8        ;; valueOffset('int32') * 4
;; const I32_SLOT_BYTES = 12    ;; slotInts('int32', 'int32') * 4: getI32's slot size
;; const F64_SLOT_BYTES = 16    ;; slotInts('int32', 'float64') * 4: getF64's slot size
;; const MISS = 4294967296      ;; 2^32: not an int32, so never a value
;; const RETRY = 8589934592     ;; 2^33
;; const STATUS_MISS = 0
;; const STATUS_HIT = 1
;; const STATUS_RETRY = 2
(module
  (import "env" "memory" (memory 1 65536 shared))

  ;; The float64 value of the last getF64 hit. A per-instance (per-thread) global,
  ;; not shared memory.
  (global $f64 (mut f64) (f64.const 0))

  ;; int32 values: the value as f64, MISS, or RETRY.
  ;; slots: word index of slot 0; capacity: slots in the table;
  ;; gen: cached generation. Slots of I32_SLOT_BYTES.
  (func (export "getI32")
    (param $k i32) (param $hash i32) (param $slots i32) (param $capacity i32) (param $gen i32) (result f64)
    (local $slot i32) (local $first i32) (local $wrapped i32)
    (local $at i32) (local $s1 i32) (local $state i32) (local $v i32)
    ;; $at is the byte address of slot $slot; the probe steps both and wraps them
    ;; together to slot 0, so the loop has no multiply and no per-probe counter: a
    ;; second wrap (every slot seen) answers RETRY, which bounds a probe of a stale table.
    (local.set $slot (i32.wrap_i64 (i64.shr_u
      (i64.mul (i64.extend_i32_u (local.get $hash)) (i64.extend_i32_u (local.get $capacity)))
      (i64.const 32))))
    (local.set $first (i32.shl (local.get $slots) (i32.const 2)))
    (local.set $at (i32.add (local.get $first) (i32.mul (local.get $slot) (i32.const 12))))
    (block $retry
      (loop $probe
        (local.set $s1 (i32.atomic.load (local.get $at)))
        (br_if $retry (i32.and (local.get $s1) (i32.const 1)))
        (local.set $state (i32.and (local.get $s1) (i32.const 6)))
        (if (i32.eqz (local.get $state))
          (then
            (br_if $retry (i32.ne (i32.shr_u (i32.atomic.load (i32.const 128)) (i32.const 2)) (local.get $gen)))
            (br_if $retry (i32.ne (i32.atomic.load (local.get $at)) (local.get $s1)))
            (return (f64.const 4294967296))))
        (if (i32.eq (i32.atomic.load offset=4 (local.get $at)) (local.get $k))
          (then
            (local.set $v (i32.atomic.load offset=8 (local.get $at)))
            (br_if $retry (i32.ne (i32.shr_u (i32.atomic.load (i32.const 128)) (i32.const 2)) (local.get $gen)))
            (br_if $retry (i32.ne (i32.atomic.load (local.get $at)) (local.get $s1)))
            (if (i32.eq (local.get $state) (i32.const 4)) (then (return (f64.const 4294967296))))
            (return (f64.convert_i32_s (local.get $v)))))
        (local.set $slot (i32.add (local.get $slot) (i32.const 1)))
        (local.set $at (i32.add (local.get $at) (i32.const 12)))
        (if (i32.ge_u (local.get $slot) (local.get $capacity))
          (then
            (br_if $retry (local.get $wrapped))
            (local.set $wrapped (i32.const 1))
            (local.set $slot (i32.const 0))
            (local.set $at (local.get $first))))
        (br $probe)))
    (f64.const 8589934592))

  ;; float64 values: STATUS_MISS, STATUS_HIT (value in lastF64()) or STATUS_RETRY.
  (func (export "getF64")
    (param $k i32) (param $hash i32) (param $slots i32) (param $capacity i32) (param $gen i32) (result i32)
    (local $slot i32) (local $first i32) (local $wrapped i32)
    (local $at i32) (local $s1 i32) (local $state i32) (local $lo i32) (local $hi i32)
    ;; The same probe as getI32, over slots of F64_SLOT_BYTES.
    (local.set $slot (i32.wrap_i64 (i64.shr_u
      (i64.mul (i64.extend_i32_u (local.get $hash)) (i64.extend_i32_u (local.get $capacity)))
      (i64.const 32))))
    (local.set $first (i32.shl (local.get $slots) (i32.const 2)))
    (local.set $at (i32.add (local.get $first) (i32.mul (local.get $slot) (i32.const 16))))
    (block $retry
      (loop $probe
        (local.set $s1 (i32.atomic.load (local.get $at)))
        (br_if $retry (i32.and (local.get $s1) (i32.const 1)))
        (local.set $state (i32.and (local.get $s1) (i32.const 6)))
        (if (i32.eqz (local.get $state))
          (then
            (br_if $retry (i32.ne (i32.shr_u (i32.atomic.load (i32.const 128)) (i32.const 2)) (local.get $gen)))
            (br_if $retry (i32.ne (i32.atomic.load (local.get $at)) (local.get $s1)))
            (return (i32.const 0))))
        (if (i32.eq (i32.atomic.load offset=4 (local.get $at)) (local.get $k))
          (then
            (local.set $lo (i32.atomic.load offset=8 (local.get $at)))
            (local.set $hi (i32.atomic.load offset=12 (local.get $at)))
            (br_if $retry (i32.ne (i32.shr_u (i32.atomic.load (i32.const 128)) (i32.const 2)) (local.get $gen)))
            (br_if $retry (i32.ne (i32.atomic.load (local.get $at)) (local.get $s1)))
            (if (i32.eq (local.get $state) (i32.const 4)) (then (return (i32.const 0))))
            (global.set $f64 (f64.reinterpret_i64 (i64.or
              (i64.extend_i32_u (local.get $lo))
              (i64.shl (i64.extend_i32_u (local.get $hi)) (i64.const 32)))))
            (return (i32.const 1))))
        (local.set $slot (i32.add (local.get $slot) (i32.const 1)))
        (local.set $at (i32.add (local.get $at) (i32.const 16)))
        (if (i32.ge_u (local.get $slot) (local.get $capacity))
          (then
            (br_if $retry (local.get $wrapped))
            (local.set $wrapped (i32.const 1))
            (local.set $slot (i32.const 0))
            (local.set $at (local.get $first))))
        (br $probe)))
    (i32.const 2))

  (func (export "lastF64") (result f64) (global.get $f64))
)
