;; flatshare: the string-key read path (SharedFlatMap.get / has for string
;; keys of at most KEY_MAX_UNITS code units, all <= 0xFF, hashed by the
;; built-in murmur3), in WebAssembly. The key compare is unrolled: one
;; masked compare per packed key word, KEY_MAX_UNITS / 4 of them.
;;
;; The JS side hashes the key and packs it, four units per little-endian word
;; (murmur3StringPacked: one pass over the string, which only JS can read), and
;; passes the words as arguments: readers never write shared memory, so the
;; key cannot be handed over in it. This module then runs the probe that the
;; JS loop ran, with i32.atomic.load for every word (a `mov` on x86-64, `ldar`
;; on arm64) instead of an Atomics builtin call for the validating load:
;;   s1 = load seq; odd -> RETRY;
;;   EMPTY -> validate -> MISS;
;;   HASH differs -> next slot (a slot's hash never changes in its table, nor
;;   its key, except that a TOMBSTONE's key can be reclaimed: KEY_REF NULL_BLOCK);
;;   KEY_REF NULL_BLOCK (0) in a TOMBSTONE -> next slot (a reclaimed tombstone
;;   holds no key); in a FULL slot -> RETRY (garbage of a stale table);
;;   KEY_REF outside the memory -> RETRY (a stale table: only the generation
;;   check can tell, and it will fail);
;;   key block header == header (the length and the one-byte tag) and every
;;   payload word equal (the last one masked: a reused block keeps stale
;;   padding) -> found; else next slot.
;;   validate = generation of the epoch word == gen AND load seq == s1.
;; getStrI32 / getStrF64 then read the value words and validate, like
;; read-int32.wat; findStr returns the slot's seq word index (its s1 in
;; lastSeq()) and leaves the value (an arena block) and the validation to JS.
;; Every address is checked against memory.size before it is loaded, so a
;; stale table's garbage words are never loaded out of bounds (a trap). The
;; check counts words (memory.size << PAGE_WORDS_SHIFT, at most 2^30): in bytes
;; a memory of the full 4 GiB (65,536 pages) would wrap to 0 and every probe
;; would answer RETRY.
;;
;; Layout constants (spec/unit/wasm-read-string.test.ts checks each against lib/):
;; const EPOCH_BYTES = 128      ;; H_EPOCH * 4
;; const PAGE_WORDS_SHIFT = 14  ;; log2(WASM_PAGE_BYTES / 4)
;; const GEN_SHIFT = 2
;; const LOCKED = 1
;; const STATE_MASK = 6
;; const EMPTY = 0
;; const TOMBSTONE = 4
;; const HASH_BYTES = 4         ;; S_HASH * 4
;; const KEY_REF_BYTES = 8      ;; S_KEY_REF * 4
;; const VALUE_BYTES = 12       ;; valueOffset('string') * 4
;; const BLOCK_TAG_BITS = 2
;; const PAYLOAD_BYTES = 4      ;; BLOCK_HEADER_INTS * 4
;; const KEY_MAX_UNITS = 32
;; const MISS = 4294967296      ;; 2^32
;; const RETRY = 8589934592     ;; 2^33
;; const STATUS_MISS = 0
;; const STATUS_HIT = 1
;; const STATUS_RETRY = 2
;; const FIND_MISS = 0
;; const FIND_RETRY = -1
(module
  (import "env" "memory" (memory 1 65536 shared))

  ;; Per instance (one map in one thread): s1 of the slot the last $find found,
  ;; and the float64 value of the last getStrF64 hit.
  (global $seq (mut i32) (i32.const 0))
  (global $f64 (mut f64) (f64.const 0))

  ;; The slot of the key: its seq word index (> 0; s1 in $seq), FIND_MISS
  ;; (validated) or FIND_RETRY. header: n << BLOCK_TAG_BITS | TAG_LATIN1.
  (func $find
    (param $hash i32) (param $header i32) (param $w0 i32) (param $w1 i32) (param $w2 i32) (param $w3 i32) (param $w4 i32) (param $w5 i32) (param $w6 i32) (param $w7 i32)
    (param $slots i32) (param $capacity i32) (param $stride i32) (param $gen i32) (result i32)
    (local $slot i32) (local $at i32) (local $s1 i32) (local $n i32) (local $units i32) (local $nwords i32)
    (local $tailmask i32) (local $memWords i32) (local $block i32) (local $b i32)
    (local.set $units (i32.shr_u (local.get $header) (i32.const 2)))
    (local.set $nwords (i32.shr_u (i32.add (local.get $units) (i32.const 3)) (i32.const 2)))
    ;; Bytes of the last word that belong to the key; a full word keeps every bit.
    (local.set $tailmask
      (select
        (i32.sub (i32.shl (i32.const 1) (i32.shl (i32.and (local.get $units) (i32.const 3)) (i32.const 3))) (i32.const 1))
        (i32.const -1)
        (i32.and (local.get $units) (i32.const 3))))
    (local.set $memWords (i32.shl (memory.size) (i32.const 14)))
    ;; Home slot floor(hash * capacity / 2^32) (lib/table.ts homeSlot); at most capacity probes.
    (local.set $slot (i32.wrap_i64 (i64.shr_u
      (i64.mul (i64.extend_i32_u (local.get $hash)) (i64.extend_i32_u (local.get $capacity)))
      (i64.const 32))))
    (local.set $n (i32.sub (local.get $capacity) (i32.const 1)))
    (block $retry
      (loop $probe
        (block $next
          (local.set $at (i32.shl (i32.add (local.get $slots) (i32.mul (local.get $slot) (local.get $stride))) (i32.const 2)))
          (local.set $s1 (i32.atomic.load (local.get $at)))
          (br_if $retry (i32.and (local.get $s1) (i32.const 1)))
          (if (i32.eqz (i32.and (local.get $s1) (i32.const 6)))
            (then
              (br_if $retry (i32.ne (i32.shr_u (i32.atomic.load (i32.const 128)) (i32.const 2)) (local.get $gen)))
              (br_if $retry (i32.ne (i32.atomic.load (local.get $at)) (local.get $s1)))
              (return (i32.const 0))))
          (br_if $next (i32.ne (i32.atomic.load offset=4 (local.get $at)) (local.get $hash)))
          (local.set $block (i32.atomic.load offset=8 (local.get $at)))
          ;; NULL_BLOCK (0): a TOMBSTONE whose key block was reclaimed holds no key: next
          ;; slot. A FULL slot never has it in a current table: a stale table's garbage.
          (if (i32.eqz (local.get $block))
            (then
              (br_if $next (i32.eq (i32.and (local.get $s1) (i32.const 6)) (i32.const 4)))
              (br $retry)))
          ;; The block and its payload must lie inside the memory.
          (br_if $retry (i32.ge_u (local.get $block) (local.get $memWords)))
          (local.set $b (i32.shl (local.get $block) (i32.const 2)))
          (br_if $retry (i32.gt_u
            (i32.add (local.get $block) (i32.add (local.get $nwords) (i32.const 1)))
            (local.get $memWords)))
          (block $differ
            (br_if $differ (i32.ne (i32.atomic.load (local.get $b)) (local.get $header)))
                  (if (i32.gt_u (local.get $nwords) (i32.const 0))
                    (then
                      (br_if $differ (i32.ne
                        (i32.and (i32.atomic.load offset=4 (local.get $b))
                          (select (local.get $tailmask) (i32.const -1) (i32.eq (local.get $nwords) (i32.const 1))))
                        (local.get $w0)))))
                  (if (i32.gt_u (local.get $nwords) (i32.const 1))
                    (then
                      (br_if $differ (i32.ne
                        (i32.and (i32.atomic.load offset=8 (local.get $b))
                          (select (local.get $tailmask) (i32.const -1) (i32.eq (local.get $nwords) (i32.const 2))))
                        (local.get $w1)))))
                  (if (i32.gt_u (local.get $nwords) (i32.const 2))
                    (then
                      (br_if $differ (i32.ne
                        (i32.and (i32.atomic.load offset=12 (local.get $b))
                          (select (local.get $tailmask) (i32.const -1) (i32.eq (local.get $nwords) (i32.const 3))))
                        (local.get $w2)))))
                  (if (i32.gt_u (local.get $nwords) (i32.const 3))
                    (then
                      (br_if $differ (i32.ne
                        (i32.and (i32.atomic.load offset=16 (local.get $b))
                          (select (local.get $tailmask) (i32.const -1) (i32.eq (local.get $nwords) (i32.const 4))))
                        (local.get $w3)))))
                  (if (i32.gt_u (local.get $nwords) (i32.const 4))
                    (then
                      (br_if $differ (i32.ne
                        (i32.and (i32.atomic.load offset=20 (local.get $b))
                          (select (local.get $tailmask) (i32.const -1) (i32.eq (local.get $nwords) (i32.const 5))))
                        (local.get $w4)))))
                  (if (i32.gt_u (local.get $nwords) (i32.const 5))
                    (then
                      (br_if $differ (i32.ne
                        (i32.and (i32.atomic.load offset=24 (local.get $b))
                          (select (local.get $tailmask) (i32.const -1) (i32.eq (local.get $nwords) (i32.const 6))))
                        (local.get $w5)))))
                  (if (i32.gt_u (local.get $nwords) (i32.const 6))
                    (then
                      (br_if $differ (i32.ne
                        (i32.and (i32.atomic.load offset=28 (local.get $b))
                          (select (local.get $tailmask) (i32.const -1) (i32.eq (local.get $nwords) (i32.const 7))))
                        (local.get $w6)))))
                  (if (i32.gt_u (local.get $nwords) (i32.const 7))
                    (then
                      (br_if $differ (i32.ne
                        (i32.and (i32.atomic.load offset=32 (local.get $b))
                          (select (local.get $tailmask) (i32.const -1) (i32.eq (local.get $nwords) (i32.const 8))))
                        (local.get $w7)))))
            (global.set $seq (local.get $s1))
            (return (i32.shr_u (local.get $at) (i32.const 2)))))
        (local.set $slot (i32.add (local.get $slot) (i32.const 1)))
        (if (i32.ge_u (local.get $slot) (local.get $capacity)) (then (local.set $slot (i32.const 0))))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br_if $probe (i32.ge_s (local.get $n) (i32.const 0)))))
    (i32.const -1))

  (func (export "findStr")
    (param $hash i32) (param $header i32) (param $w0 i32) (param $w1 i32) (param $w2 i32) (param $w3 i32) (param $w4 i32) (param $w5 i32) (param $w6 i32) (param $w7 i32)
    (param $slots i32) (param $capacity i32) (param $stride i32) (param $gen i32) (result i32)
    (call $find (local.get $hash) (local.get $header) (local.get $w0) (local.get $w1) (local.get $w2) (local.get $w3) (local.get $w4) (local.get $w5) (local.get $w6) (local.get $w7)
      (local.get $slots) (local.get $capacity) (local.get $stride) (local.get $gen)))

  (func (export "lastSeq") (result i32) (global.get $seq))

  ;; int32 values: the value as f64, MISS or RETRY (like read-int32.wat getI32).
  (func (export "getStrI32")
    (param $hash i32) (param $header i32) (param $w0 i32) (param $w1 i32) (param $w2 i32) (param $w3 i32) (param $w4 i32) (param $w5 i32) (param $w6 i32) (param $w7 i32)
    (param $slots i32) (param $capacity i32) (param $stride i32) (param $gen i32) (result f64)
    (local $w i32) (local $at i32) (local $v i32)
    (local.set $w (call $find (local.get $hash) (local.get $header) (local.get $w0) (local.get $w1) (local.get $w2) (local.get $w3) (local.get $w4) (local.get $w5) (local.get $w6) (local.get $w7)
      (local.get $slots) (local.get $capacity) (local.get $stride) (local.get $gen)))
    (if (i32.eqz (local.get $w)) (then (return (f64.const 4294967296))))
    (if (i32.lt_s (local.get $w) (i32.const 0)) (then (return (f64.const 8589934592))))
    (local.set $at (i32.shl (local.get $w) (i32.const 2)))
    (local.set $v (i32.atomic.load offset=12 (local.get $at)))
    (if (i32.ne (i32.shr_u (i32.atomic.load (i32.const 128)) (i32.const 2)) (local.get $gen))
      (then (return (f64.const 8589934592))))
    (if (i32.ne (i32.atomic.load (local.get $at)) (global.get $seq))
      (then (return (f64.const 8589934592))))
    (if (i32.eq (i32.and (global.get $seq) (i32.const 6)) (i32.const 4)) (then (return (f64.const 4294967296))))
    (f64.convert_i32_s (local.get $v)))

  ;; float64 values: STATUS_MISS, STATUS_HIT (value in lastF64()) or STATUS_RETRY.
  (func (export "getStrF64")
    (param $hash i32) (param $header i32) (param $w0 i32) (param $w1 i32) (param $w2 i32) (param $w3 i32) (param $w4 i32) (param $w5 i32) (param $w6 i32) (param $w7 i32)
    (param $slots i32) (param $capacity i32) (param $stride i32) (param $gen i32) (result i32)
    (local $w i32) (local $at i32) (local $lo i32) (local $hi i32)
    (local.set $w (call $find (local.get $hash) (local.get $header) (local.get $w0) (local.get $w1) (local.get $w2) (local.get $w3) (local.get $w4) (local.get $w5) (local.get $w6) (local.get $w7)
      (local.get $slots) (local.get $capacity) (local.get $stride) (local.get $gen)))
    (if (i32.eqz (local.get $w)) (then (return (i32.const 0))))
    (if (i32.lt_s (local.get $w) (i32.const 0)) (then (return (i32.const 2))))
    (local.set $at (i32.shl (local.get $w) (i32.const 2)))
    (local.set $lo (i32.atomic.load offset=12 (local.get $at)))
    (local.set $hi (i32.atomic.load offset=16 (local.get $at)))
    (if (i32.ne (i32.shr_u (i32.atomic.load (i32.const 128)) (i32.const 2)) (local.get $gen))
      (then (return (i32.const 2))))
    (if (i32.ne (i32.atomic.load (local.get $at)) (global.get $seq))
      (then (return (i32.const 2))))
    (if (i32.eq (i32.and (global.get $seq) (i32.const 6)) (i32.const 4)) (then (return (i32.const 0))))
    (global.set $f64 (f64.reinterpret_i64 (i64.or
      (i64.extend_i32_u (local.get $lo))
      (i64.shl (i64.extend_i32_u (local.get $hi)) (i64.const 32)))))
    (i32.const 1))

  (func (export "lastF64") (result f64) (global.get $f64))
)
