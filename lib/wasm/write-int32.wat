;; flatshare: the fast write paths in WebAssembly:
;; - putI32 / putF64: SharedFlatMap.set for int32 keys with int32 or float64
;;   values, when nothing needs waiting for (no migration, no locked slot, an
;;   insert budget left);
;; - deleteI32: SharedFlatMap.delete for the same maps, under the same
;;   conditions;
;; - addI32: SharedFlatMap.add for int32 keys with int32 values, as putI32
;;   with the new value computed under the lock;
;; - putStrI32 / putStrF64: SharedFlatMap.set for string keys of at most
;;   KEY_MAX_UNITS one-byte code units (built-in murmur3), as putI32 with the
;;   slot matched by its HASH word and its key block; deleteStr: delete of such
;;   keys, any value kind (lastOld() hands an arena value's block to JS to free);
;; - copyRange: the migration copy of a run of old slots into the new table,
;;   for int32 keys hashed by the built-in murmur3 and for string keys (whose
;;   slots store their hash).
;;
;; Why WebAssembly: a JS Atomics call is a builtin call of 10-19 ns on Node 20
;; (docs/design.md, section 5); a wasm atomic instruction is inline (`mov`,
;; `xchg` or `lock cmpxchg` on x86-64; `ldar` / `stlr` / an exclusive pair on
;; arm64). The steps and their order are exactly those of the JS write path
;; (lib/recovery.ts, "Write protocol with intent"), so recovery repairs a
;; thread killed inside this code like one killed inside the JS path: V8 stops
;; wasm only at function entries and loop back edges, which here lie before the
;; lock, between the copy of two slots, or between two staged payload words
;; (before the intent is committed).
;;
;; Writers (putI32 / putF64), each step as in lib/shared-flat-map.ts:
;;   epoch == STABLE(gen) of the caller's cached table, else SLOW;
;;   ACTIVE_GEN = gen + 1 (atomic store: the Dekker handshake with the region
;;   allocator); epoch re-read, else SLOW;
;;   probe from the home slot (floor(hash * capacity / 2^32)) for the key or
;;   the first EMPTY slot; a locked slot -> SLOW (the JS path waits, backs off
;;   and times out);
;;   LOCK_AT, LOCK_SEQ (plain; published by the CAS); CAS seq -> lockWord(tag,
;;   seq); lost -> clear, SLOW;
;;   epoch re-read after the CAS, else restore seq, SLOW;
;;   EMPTY: take one unit of REMAINING; none left -> give it back, restore,
;;   SLOW (the JS path starts the migration);
;;   stage key and value in INTENT_PAYLOAD; INTENT_TABLE; INTENT = PUT (commit);
;;   slot payload = staged words; not FULL before: SIZE + 1, INTENT |= SIZED;
;;   release: atomic store of released(seq, FULL); clear INTENT, LOCK_AT;
;;   ACTIVE_GEN = 0. Returns INSERTED (the slot was EMPTY or a TOMBSTONE) or
;;   OVERWROTE.
;; add (addI32) is the same put with one step more, right after the epoch
;;   re-read that follows the lock: a FULL slot's value becomes value + delta,
;;   and an int32 overflow restores the seq word and hands back (SLOW); an
;;   EMPTY slot or a TOMBSTONE of the key gets delta. Returns the new value;
;;   SLOW is ADD_SLOW_RESULT with handedBack() = 1 (a real result of
;;   ADD_SLOW_RESULT has handedBack() = 0).
;; String keys (putStrI32 / putStrF64) run the same steps; the probe matches a
;;   slot by HASH, then compares the key block KEY_REF points to (bounds-checked
;;   against memory.size in words, memory.size << PAGE_WORDS_SHIFT, which does
;;   not wrap at 4 GiB: anything outside is not this table's, SLOW) with the
;;   packed key; a KEY_REF of NULL_BLOCK (a tombstone whose key block was
;;   reclaimed) holds no key, so the probe goes on. An EMPTY slot with no key block passed answers NEED_BLOCK
;;   when the table has insert budget left (SLOW when not), having changed
;;   nothing (JS allocates and writes the block, which no slot reaches yet, and
;;   calls again with it); with one it is locked, budgeted and filled
;;   with HASH, KEY_REF = the block and the value, and answers STORED_BLOCK. A
;;   FULL or TOMBSTONE slot of the key keeps its own block (OVERWROTE /
;;   INSERTED); the caller frees a block that was not stored.
;; SLOW means "nothing changed; run the JS path": every SLOW exit has restored
;; what it touched (the slot word, REMAINING) and leaves ACTIVE_GEN idle.
;;
;; Delete (deleteI32), as SharedFlatMap.delete: the same entry and probe;
;;   EMPTY -> ABSENT if the epoch still says generation g (else SLOW);
;;   the key in a TOMBSTONE -> ABSENT if the slot's seq and the generation are
;;   unchanged on a second look (the JS path locks and unlocks it instead);
;;   the key FULL -> lock as above; INTENT_TABLE; INTENT = DELETE (commit);
;;   SIZE - 1; INTENT |= SIZED; release: atomic store of released(seq,
;;   TOMBSTONE); clear; idle. Returns DELETED, ABSENT or SLOW.
;;
;; Copy (copyRange), per old slot, as lib/migration.ts copySlot:
;;   seq of the old slot; locked -> stop here (the JS copy waits for it);
;;   not FULL -> skip; hash (the stored hash, or fmix32(key ^ seed));
;;   probe table g+1: EMPTY -> LOCK_AT, LOCK_SEQ = EMPTY, stage the payload,
;;   INTENT_TABLE, INTENT = COPY, CAS EMPTY -> lockWord(tag, EMPTY), write the
;;   payload, release FULL, clear (CAS lost: clear, look again); locked -> stop
;;   here; the same payload -> copied before by a helper that did not finish
;;   the chunk; another key -> next slot.
;;   Returns the entries found (copied now or before); stoppedAt() is the
;;   first slot not handled (end when the whole range was).
;;
;; Memory ordering: every load is i32.atomic.load (free on x86, ordered
;; everywhere). Stores that the JS path makes with Atomics on every CPU
;; (ACTIVE_GEN announcement, lock CAS, REMAINING, SIZE, release of a put) are
;; atomic here on every CPU. Stores the JS path makes plain on x86 and with
;; Atomics elsewhere (intent commit, INTENT_SIZED, slot payload, the copy's
;; release, the idle store) are plain here when `strict` is 0 (x86) and atomic
;; otherwise: the same argument, docs/design.md section 5.
;;
;; Layout constants (spec/unit/wasm-write-path.test.ts checks each against lib/):
;; const EPOCH_BYTES = 128         ;; H_EPOCH * 4
;; const PAGE_WORDS_SHIFT = 14     ;; log2(WASM_PAGE_BYTES / 4)
;; const GEN_SHIFT = 2             ;; epoch.ts; PHASE_STABLE is 0
;; const LOCKED = 1                ;; seqlock.ts
;; const STATE_MASK = 6
;; const EMPTY = 0
;; const FULL = 2
;; const OWNER_TAG_SHIFT = 3
;; const VERSION_MASK = 4294967288 ;; ~7 as uint32
;; const VERSION_ONE = 8
;; const KEY_BYTES = 4             ;; S_KEY * 4 (and S_HASH * 4 for string keys)
;; const VALUE_BYTES = 8           ;; valueOffset('int32') * 4
;; const W_ACTIVE_GEN_BYTES = 4
;; const W_LOCK_AT_BYTES = 8
;; const W_LOCK_SEQ_BYTES = 12
;; const W_INTENT_BYTES = 20
;; const W_INTENT_TABLE_BYTES = 24
;; const W_INTENT_PAYLOAD_BYTES = 32
;; const T_SIZE_BYTES = 0
;; const T_REMAINING_BYTES = 64
;; const INTENT_PUT = 1
;; const INTENT_DELETE = 2
;; const INTENT_COPY = 3
;; const INTENT_SIZED = 4
;; const PUT_SLOW = 0
;; const PUT_INSERTED = 1
;; const PUT_OVERWROTE = 2
;; const TOMBSTONE = 4
;; const DEL_SLOW = 0
;; const DEL_DELETED = 1
;; const DEL_ABSENT = 2
;; const ADD_SLOW_RESULT = -2147483648 ;; INT32_MIN (0x80000000)
;; const HASH_BYTES = 4            ;; S_HASH * 4 (string keys)
;; const KEY_REF_BYTES = 8         ;; S_KEY_REF * 4
;; const STR_VALUE_BYTES = 12      ;; valueOffset('string') * 4
;; const STR_F64_SLOT_INTS = 5     ;; slotInts('string', 'float64'): a slot with a high value word
;; const BLOCK_TAG_BITS = 2        ;; layout.ts; TAG_LATIN1 is 0
;; const PAYLOAD_BYTES = 4         ;; BLOCK_HEADER_INTS * 4
;; const PUT_NEED_BLOCK = 3
;; const PUT_STORED_BLOCK = 4
;; const FMIX_C1 = 2246822507      ;; hashers/murmur3.ts (0x85ebca6b): copyRange's inline fmix32
;; const FMIX_C2 = 3266489909      ;; hashers/murmur3.ts (0xc2b2ae35)
(module
  (import "env" "memory" (memory 1 65536 shared))

  ;; Per instance (one map in one thread), set by the JS side.
  (global $stride (mut i32) (i32.const 0)) ;; words per slot
  (global $strict (mut i32) (i32.const 1)) ;; 1: every store atomic (not x86)
  (global $seed (mut i32) (i32.const 0))   ;; murmur3 seed, for copyRange's hash mode 1
  (global $rec (mut i32) (i32.const 0))    ;; byte address of this thread's writer record; 0 = none
  (global $tag (mut i32) (i32.const 0))    ;; that record's tag
  (global $stop (mut i32) (i32.const 0))   ;; copyRange: first slot not handled
  (global $handedBack (mut i32) (i32.const 0)) ;; addI32: 1 when the last call handed back
  (global $old (mut i32) (i32.const 0))        ;; deleteStr: the value word of the last slot it deleted

  (func (export "configure") (param $stride i32) (param $strict i32) (param $seed i32)
    (global.set $stride (local.get $stride))
    (global.set $strict (local.get $strict))
    (global.set $seed (local.get $seed)))

  ;; rec: word index of the writer record (0 = none), tag: its tag.
  (func (export "setWriter") (param $rec i32) (param $tag i32)
    (global.set $rec (i32.shl (local.get $rec) (i32.const 2)))
    (global.set $tag (local.get $tag)))

  (func (export "stoppedAt") (result i32) (global.get $stop))

  ;; No helper functions: V8 11.3 does not inline wasm calls, and a call per
  ;; store cost ~25 % of an overwrite (docs/design.md, section 5). Two store
  ;; forms are written out in place instead:
  ;;   storeWord(a, v), a store the JS path makes with storeWord (plain on x86,
  ;;     atomic elsewhere): (if (global.get $strict) (then (i32.atomic.store a v))
  ;;     (else (i32.store a v)));
  ;;   clear(r), INTENT = NONE then LOCK_AT = 0 (plain): two i32.store at r+20, r+8.

  (func (export "putI32")
    (param $k i32) (param $hash i32) (param $v i32) (param $slots i32) (param $capacity i32) (param $gen i32) (param $base i32) (result i32)
    (call $put (local.get $k) (local.get $hash) (i64.extend_i32_u (local.get $v)) (local.get $slots)
      (local.get $capacity) (local.get $gen) (local.get $base) (i32.const 0)))

  ;; add for int32 values: the new value, or ADD_SLOW_RESULT with handedBack() = 1
  ;; (nothing changed: a wait, or an int32 overflow, which the JS path reports).
  ;; putI32's signature, so one JS-to-wasm wrapper serves both (warm-up.ts).
  (func (export "addI32")
    (param $k i32) (param $hash i32) (param $delta i32) (param $slots i32) (param $capacity i32) (param $gen i32) (param $base i32) (result i32)
    (call $put (local.get $k) (local.get $hash) (i64.extend_i32_u (local.get $delta)) (local.get $slots)
      (local.get $capacity) (local.get $gen) (local.get $base) (i32.const 1)))

  ;; 1 when the last addI32 handed back (its result was ADD_SLOW_RESULT), else 0.
  (func (export "handedBack") (result i32) (global.get $handedBack))

  (func (export "putF64")
    (param $k i32) (param $hash i32) (param $v f64) (param $slots i32) (param $capacity i32) (param $gen i32) (param $base i32) (result i32)
    (call $put (local.get $k) (local.get $hash) (i64.reinterpret_f64 (local.get $v)) (local.get $slots)
      (local.get $capacity) (local.get $gen) (local.get $base) (i32.const 0)))

  ;; val: the value words, low word first (the high word is written only for
  ;; float64 slots, stride 4). slots: word index of slot 0; base: of the table region.
  ;; add: 0 for put (val is the value); 1 for addI32 (val is the delta, int32
  ;; values only: a FULL slot gets its value + delta, an absent key delta).
  (func $put
    (param $k i32) (param $hash i32) (param $val i64) (param $slots i32) (param $capacity i32) (param $gen i32) (param $base i32) (param $add i32) (result i32)
    (local $r i32) (local $epoch i32) (local $slot i32) (local $at i32) (local $seq i32)
    (local $state i32) (local $n i32) (local $b i32) (local $lo i32) (local $hi i32)
    (local $slowResult i32) (local $cur i32) (local $next i32)
    ;; PUT_SLOW, or ADD_SLOW_RESULT (INT32_MIN) with handedBack = 1 for add.
    (local.set $slowResult (select (i32.const 0x80000000) (i32.const 0) (local.get $add)))
    (global.set $handedBack (local.get $add))
    (local.set $r (global.get $rec))
    (if (i32.eqz (local.get $r)) (then (return (local.get $slowResult))))
    (local.set $epoch (i32.shl (local.get $gen) (i32.const 2)))
    (if (i32.ne (i32.atomic.load (i32.const 128)) (local.get $epoch)) (then (return (local.get $slowResult))))
    (local.set $b (i32.shl (local.get $base) (i32.const 2)))
    (local.set $lo (i32.wrap_i64 (local.get $val)))
    (local.set $hi (i32.wrap_i64 (i64.shr_u (local.get $val) (i64.const 32))))
    (block $slow
      ;; Announce generation g (a full fence), then re-read the epoch.
      (i32.atomic.store offset=4 (local.get $r) (i32.add (local.get $gen) (i32.const 1)))
      (br_if $slow (i32.ne (i32.atomic.load (i32.const 128)) (local.get $epoch)))
      ;; Home slot floor(hash * capacity / 2^32) (lib/table.ts homeSlot).
      (local.set $slot (i32.wrap_i64 (i64.shr_u
        (i64.mul (i64.extend_i32_u (local.get $hash)) (i64.extend_i32_u (local.get $capacity)))
        (i64.const 32))))
      (local.set $n (i32.sub (local.get $capacity) (i32.const 1)))
      (loop $probe
        (local.set $at (i32.shl (i32.add (local.get $slots) (i32.mul (local.get $slot) (global.get $stride))) (i32.const 2)))
        (local.set $seq (i32.atomic.load (local.get $at)))
        (br_if $slow (i32.and (local.get $seq) (i32.const 1)))
        (local.set $state (i32.and (local.get $seq) (i32.const 6)))
        (if (i32.or (i32.eqz (local.get $state)) (i32.eq (i32.atomic.load offset=4 (local.get $at)) (local.get $k)))
          (then
            ;; Lock intent, then the lock.
            (i32.store offset=8 (local.get $r) (i32.shr_u (local.get $at) (i32.const 2)))
            (i32.store offset=12 (local.get $r) (local.get $seq))
            (if (i32.ne
                  (i32.atomic.rmw.cmpxchg (local.get $at) (local.get $seq)
                    (i32.or (i32.or (i32.shl (global.get $tag) (i32.const 3)) (local.get $state)) (i32.const 1)))
                  (local.get $seq))
              (then (i32.store offset=20 (local.get $r) (i32.const 0)) ;; clear: INTENT = NONE
                    (i32.store offset=8 (local.get $r) (i32.const 0)) (br $slow)))
            ;; A migration began after our epoch check: table g is read-only, undo.
            (if (i32.ne (i32.atomic.load (i32.const 128)) (local.get $epoch))
              (then
                (i32.atomic.store (local.get $at) (local.get $seq))
                (i32.store offset=20 (local.get $r) (i32.const 0)) ;; clear: INTENT = NONE
                (i32.store offset=8 (local.get $r) (i32.const 0))
                (br $slow)))
            ;; add to a FULL slot: value + delta, unless that overflows int32
            ;; (then undo and hand back: the JS path throws ERR_FLATSHARE_VALUE).
            (if (i32.and (local.get $add) (i32.eq (local.get $state) (i32.const 2)))
              (then
                (local.set $cur (i32.atomic.load offset=8 (local.get $at)))
                (local.set $next (i32.add (local.get $cur) (local.get $lo)))
                ;; Overflow iff the sum's sign differs from both operands' signs.
                (if (i32.lt_s
                      (i32.and
                        (i32.xor (local.get $cur) (local.get $next))
                        (i32.xor (local.get $lo) (local.get $next)))
                      (i32.const 0))
                  (then
                    (i32.atomic.store (local.get $at) (local.get $seq))
                    (i32.store offset=20 (local.get $r) (i32.const 0)) ;; clear: INTENT = NONE
                    (i32.store offset=8 (local.get $r) (i32.const 0))
                    (br $slow)))
                (local.set $lo (local.get $next))))
            ;; An EMPTY slot takes one unit of the insert budget.
            (if (i32.eqz (local.get $state))
              (then
                (if (i32.le_s (i32.atomic.rmw.sub offset=64 (local.get $b) (i32.const 1)) (i32.const 0))
                  (then
                    (drop (i32.atomic.rmw.add offset=64 (local.get $b) (i32.const 1)))
                    (i32.atomic.store (local.get $at) (local.get $seq))
                    (i32.store offset=20 (local.get $r) (i32.const 0)) ;; clear: INTENT = NONE
                    (i32.store offset=8 (local.get $r) (i32.const 0))
                    (br $slow)))))
            ;; Stage the payload, commit the intent.
            (i32.store offset=32 (local.get $r) (local.get $k))
            (i32.store offset=36 (local.get $r) (local.get $lo))
            (if (i32.eq (global.get $stride) (i32.const 4))
              (then (i32.store offset=40 (local.get $r) (local.get $hi))))
            (i32.store offset=24 (local.get $r) (local.get $base))
            (if (global.get $strict)
              (then (i32.atomic.store (i32.add (local.get $r) (i32.const 20)) (i32.const 1)))
              (else (i32.store (i32.add (local.get $r) (i32.const 20)) (i32.const 1))))
            ;; Apply it.
            (if (global.get $strict)
              (then (i32.atomic.store (i32.add (local.get $at) (i32.const 4)) (local.get $k)))
              (else (i32.store (i32.add (local.get $at) (i32.const 4)) (local.get $k))))
            (if (global.get $strict)
              (then (i32.atomic.store (i32.add (local.get $at) (i32.const 8)) (local.get $lo)))
              (else (i32.store (i32.add (local.get $at) (i32.const 8)) (local.get $lo))))
            (if (i32.eq (global.get $stride) (i32.const 4))
              (then (if (global.get $strict)
                      (then (i32.atomic.store (i32.add (local.get $at) (i32.const 12)) (local.get $hi)))
                      (else (i32.store (i32.add (local.get $at) (i32.const 12)) (local.get $hi))))))
            ;; A new entry (EMPTY or TOMBSTONE before): count it, and say so.
            (if (i32.ne (local.get $state) (i32.const 2))
              (then
                (drop (i32.atomic.rmw.add (local.get $b) (i32.const 1)))
                (if (global.get $strict)
                  (then (i32.atomic.store (i32.add (local.get $r) (i32.const 20)) (i32.const 5)))
                  (else (i32.store (i32.add (local.get $r) (i32.const 20)) (i32.const 5))))))
            ;; Release: publishes key, value and FULL together.
            (i32.atomic.store (local.get $at)
              (i32.or (i32.add (i32.and (local.get $seq) (i32.const -8)) (i32.const 8)) (i32.const 2)))
            (i32.store offset=20 (local.get $r) (i32.const 0)) ;; clear: INTENT = NONE
            (i32.store offset=8 (local.get $r) (i32.const 0))
            (if (global.get $strict)
              (then (i32.atomic.store (i32.add (local.get $r) (i32.const 4)) (i32.const 0)))
              (else (i32.store (i32.add (local.get $r) (i32.const 4)) (i32.const 0))))
            (global.set $handedBack (i32.const 0))
            (if (local.get $add) (then (return (local.get $lo))))
            (return (select (i32.const 2) (i32.const 1) (i32.eq (local.get $state) (i32.const 2))))))
        (local.set $slot (i32.add (local.get $slot) (i32.const 1)))
        (if (i32.ge_u (local.get $slot) (local.get $capacity)) (then (local.set $slot (i32.const 0))))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br_if $probe (i32.ge_s (local.get $n) (i32.const 0)))))
    ;; SLOW: nothing changed; idle again.
    (if (global.get $strict)
      (then (i32.atomic.store (i32.add (local.get $r) (i32.const 4)) (i32.const 0)))
      (else (i32.store (i32.add (local.get $r) (i32.const 4)) (i32.const 0))))
    (local.get $slowResult))

  ;; String keys (putStrI32 / putStrF64): SharedFlatMap.set of a key of at most
  ;; KEY_MAX_UNITS code units, all <= 0xFF, hashed by the built-in murmur3, packed
  ;; four units per little-endian word by the JS side (w0..w7; header = its key
  ;; block header, n << BLOCK_TAG_BITS | TAG_LATIN1). The probe matches a slot by
  ;; its HASH word, then by the key block KEY_REF points to (header, then every
  ;; payload word, the last one masked: a reused block keeps stale padding); the
  ;; rest is putI32's protocol, step for step. keyRef is the key block for an
  ;; EMPTY slot: 0 the first time, and an EMPTY slot then answers NEED_BLOCK with
  ;; nothing changed (JS allocates and writes the block, and calls again);
  ;; STORED_BLOCK says the slot now references keyRef, any other answer leaves
  ;; keyRef unused (JS frees it).
  (func (export "putStrI32")
    (param $hash i32) (param $header i32) (param $w0 i32) (param $w1 i32) (param $w2 i32) (param $w3 i32)
    (param $w4 i32) (param $w5 i32) (param $w6 i32) (param $w7 i32) (param $v i32)
    (param $slots i32) (param $capacity i32) (param $gen i32) (param $base i32) (param $keyRef i32)
    (result i32)
    (call $putStr (local.get $hash) (local.get $header) (local.get $w0) (local.get $w1) (local.get $w2)
      (local.get $w3) (local.get $w4) (local.get $w5) (local.get $w6) (local.get $w7)
      (i64.extend_i32_u (local.get $v)) (local.get $slots) (local.get $capacity)
      (local.get $gen) (local.get $base) (local.get $keyRef)))

  (func (export "putStrF64")
    (param $hash i32) (param $header i32) (param $w0 i32) (param $w1 i32) (param $w2 i32) (param $w3 i32)
    (param $w4 i32) (param $w5 i32) (param $w6 i32) (param $w7 i32) (param $v f64)
    (param $slots i32) (param $capacity i32) (param $gen i32) (param $base i32) (param $keyRef i32)
    (result i32)
    (call $putStr (local.get $hash) (local.get $header) (local.get $w0) (local.get $w1) (local.get $w2)
      (local.get $w3) (local.get $w4) (local.get $w5) (local.get $w6) (local.get $w7)
      (i64.reinterpret_f64 (local.get $v)) (local.get $slots) (local.get $capacity)
      (local.get $gen) (local.get $base) (local.get $keyRef)))

  (func $putStr
    (param $hash i32) (param $header i32) (param $w0 i32) (param $w1 i32) (param $w2 i32) (param $w3 i32)
    (param $w4 i32) (param $w5 i32) (param $w6 i32) (param $w7 i32) (param $val i64)
    (param $slots i32) (param $capacity i32) (param $gen i32) (param $base i32) (param $keyRef i32)
    (result i32)
    (local $r i32) (local $epoch i32) (local $slot i32) (local $at i32) (local $seq i32)
    (local $state i32) (local $n i32) (local $b i32) (local $lo i32) (local $hi i32)
    (local $units i32) (local $nwords i32) (local $tailmask i32) (local $memWords i32) (local $ref i32) (local $kb i32)
    (local.set $r (global.get $rec))
    (if (i32.eqz (local.get $r)) (then (return (i32.const 0))))
    (local.set $epoch (i32.shl (local.get $gen) (i32.const 2)))
    (if (i32.ne (i32.atomic.load (i32.const 128)) (local.get $epoch)) (then (return (i32.const 0))))
    (local.set $b (i32.shl (local.get $base) (i32.const 2)))
    (local.set $lo (i32.wrap_i64 (local.get $val)))
    (local.set $hi (i32.wrap_i64 (i64.shr_u (local.get $val) (i64.const 32))))
    (local.set $units (i32.shr_u (local.get $header) (i32.const 2)))
    (local.set $nwords (i32.shr_u (i32.add (local.get $units) (i32.const 3)) (i32.const 2)))
    ;; Bytes of the last word that belong to the key; a full word keeps every bit.
    (local.set $tailmask
      (select
        (i32.sub (i32.shl (i32.const 1) (i32.shl (i32.and (local.get $units) (i32.const 3)) (i32.const 3))) (i32.const 1))
        (i32.const -1)
        (i32.and (local.get $units) (i32.const 3))))
    (local.set $memWords (i32.shl (memory.size) (i32.const 14)))
    (block $slow
      ;; Announce generation g (a full fence), then re-read the epoch.
      (i32.atomic.store offset=4 (local.get $r) (i32.add (local.get $gen) (i32.const 1)))
      (br_if $slow (i32.ne (i32.atomic.load (i32.const 128)) (local.get $epoch)))
      ;; Home slot floor(hash * capacity / 2^32) (lib/table.ts homeSlot).
      (local.set $slot (i32.wrap_i64 (i64.shr_u
        (i64.mul (i64.extend_i32_u (local.get $hash)) (i64.extend_i32_u (local.get $capacity)))
        (i64.const 32))))
      (local.set $n (i32.sub (local.get $capacity) (i32.const 1)))
      (loop $probe
        (block $next
          (local.set $at (i32.shl (i32.add (local.get $slots) (i32.mul (local.get $slot) (global.get $stride))) (i32.const 2)))
          (local.set $seq (i32.atomic.load (local.get $at)))
          (br_if $slow (i32.and (local.get $seq) (i32.const 1)))
          (local.set $state (i32.and (local.get $seq) (i32.const 6)))
          (local.set $ref (local.get $keyRef))
          (if (i32.eqz (local.get $state))
            (then
              ;; Absent. Without a key block: ask for one, having changed nothing, if an
              ;; insert could go on (no budget left: SLOW, the JS path migrates first,
              ;; so no block is allocated for a table that cannot take it).
              (if (i32.eqz (local.get $keyRef))
                (then
                  (br_if $slow (i32.le_s (i32.atomic.load offset=64 (local.get $b)) (i32.const 0)))
                  (if (global.get $strict)
                    (then (i32.atomic.store (i32.add (local.get $r) (i32.const 4)) (i32.const 0)))
                    (else (i32.store (i32.add (local.get $r) (i32.const 4)) (i32.const 0))))
                  (return (i32.const 3)))))
            (else
              (br_if $next (i32.ne (i32.atomic.load offset=4 (local.get $at)) (local.get $hash)))
              (local.set $ref (i32.atomic.load offset=8 (local.get $at)))
              ;; NULL_BLOCK (0): a TOMBSTONE whose key block was reclaimed holds no key:
              ;; next slot. In a FULL slot it is a stale table's garbage: hand back.
              (if (i32.eqz (local.get $ref))
                (then
                  (br_if $next (i32.eq (local.get $state) (i32.const 4)))
                  (br $slow)))
              ;; The block and its payload lie inside the memory; anything else is
              ;; not this table's word: hand back.
              (br_if $slow (i32.ge_u (local.get $ref) (local.get $memWords)))
              (local.set $kb (i32.shl (local.get $ref) (i32.const 2)))
              (br_if $slow (i32.gt_u
                (i32.add (local.get $ref) (i32.add (local.get $nwords) (i32.const 1)))
                (local.get $memWords)))
              (br_if $next (i32.ne (i32.atomic.load (local.get $kb)) (local.get $header)))
              (if (i32.gt_u (local.get $nwords) (i32.const 0))
                (then (br_if $next (i32.ne
                  (i32.and (i32.atomic.load offset=4 (local.get $kb))
                    (select (local.get $tailmask) (i32.const -1) (i32.eq (local.get $nwords) (i32.const 1))))
                  (local.get $w0)))))
              (if (i32.gt_u (local.get $nwords) (i32.const 1))
                (then (br_if $next (i32.ne
                  (i32.and (i32.atomic.load offset=8 (local.get $kb))
                    (select (local.get $tailmask) (i32.const -1) (i32.eq (local.get $nwords) (i32.const 2))))
                  (local.get $w1)))))
              (if (i32.gt_u (local.get $nwords) (i32.const 2))
                (then (br_if $next (i32.ne
                  (i32.and (i32.atomic.load offset=12 (local.get $kb))
                    (select (local.get $tailmask) (i32.const -1) (i32.eq (local.get $nwords) (i32.const 3))))
                  (local.get $w2)))))
              (if (i32.gt_u (local.get $nwords) (i32.const 3))
                (then (br_if $next (i32.ne
                  (i32.and (i32.atomic.load offset=16 (local.get $kb))
                    (select (local.get $tailmask) (i32.const -1) (i32.eq (local.get $nwords) (i32.const 4))))
                  (local.get $w3)))))
              (if (i32.gt_u (local.get $nwords) (i32.const 4))
                (then (br_if $next (i32.ne
                  (i32.and (i32.atomic.load offset=20 (local.get $kb))
                    (select (local.get $tailmask) (i32.const -1) (i32.eq (local.get $nwords) (i32.const 5))))
                  (local.get $w4)))))
              (if (i32.gt_u (local.get $nwords) (i32.const 5))
                (then (br_if $next (i32.ne
                  (i32.and (i32.atomic.load offset=24 (local.get $kb))
                    (select (local.get $tailmask) (i32.const -1) (i32.eq (local.get $nwords) (i32.const 6))))
                  (local.get $w5)))))
              (if (i32.gt_u (local.get $nwords) (i32.const 6))
                (then (br_if $next (i32.ne
                  (i32.and (i32.atomic.load offset=28 (local.get $kb))
                    (select (local.get $tailmask) (i32.const -1) (i32.eq (local.get $nwords) (i32.const 7))))
                  (local.get $w6)))))
              (if (i32.gt_u (local.get $nwords) (i32.const 7))
                (then (br_if $next (i32.ne
                  (i32.and (i32.atomic.load offset=32 (local.get $kb))
                    (select (local.get $tailmask) (i32.const -1) (i32.eq (local.get $nwords) (i32.const 8))))
                  (local.get $w7)))))))
          ;; This slot: EMPTY (with keyRef) or the key's (FULL or TOMBSTONE, its own block in $ref).
          ;; Lock intent, then the lock.
          (i32.store offset=8 (local.get $r) (i32.shr_u (local.get $at) (i32.const 2)))
          (i32.store offset=12 (local.get $r) (local.get $seq))
          (if (i32.ne
                (i32.atomic.rmw.cmpxchg (local.get $at) (local.get $seq)
                  (i32.or (i32.or (i32.shl (global.get $tag) (i32.const 3)) (local.get $state)) (i32.const 1)))
                (local.get $seq))
            (then (i32.store offset=20 (local.get $r) (i32.const 0)) ;; clear: INTENT = NONE
                  (i32.store offset=8 (local.get $r) (i32.const 0)) (br $slow)))
          ;; A migration began after our epoch check: table g is read-only, undo.
          (if (i32.ne (i32.atomic.load (i32.const 128)) (local.get $epoch))
            (then
              (i32.atomic.store (local.get $at) (local.get $seq))
              (i32.store offset=20 (local.get $r) (i32.const 0)) ;; clear: INTENT = NONE
              (i32.store offset=8 (local.get $r) (i32.const 0))
              (br $slow)))
          ;; An EMPTY slot takes one unit of the insert budget.
          (if (i32.eqz (local.get $state))
            (then
              (if (i32.le_s (i32.atomic.rmw.sub offset=64 (local.get $b) (i32.const 1)) (i32.const 0))
                (then
                  (drop (i32.atomic.rmw.add offset=64 (local.get $b) (i32.const 1)))
                  (i32.atomic.store (local.get $at) (local.get $seq))
                  (i32.store offset=20 (local.get $r) (i32.const 0)) ;; clear: INTENT = NONE
                  (i32.store offset=8 (local.get $r) (i32.const 0))
                  (br $slow)))))
          ;; Stage the payload (HASH, KEY_REF, value words), commit the intent.
          (i32.store offset=32 (local.get $r) (local.get $hash))
          (i32.store offset=36 (local.get $r) (local.get $ref))
          (i32.store offset=40 (local.get $r) (local.get $lo))
          (if (i32.eq (global.get $stride) (i32.const 5))
            (then (i32.store offset=44 (local.get $r) (local.get $hi))))
          (i32.store offset=24 (local.get $r) (local.get $base))
          (if (global.get $strict)
            (then (i32.atomic.store (i32.add (local.get $r) (i32.const 20)) (i32.const 1)))
            (else (i32.store (i32.add (local.get $r) (i32.const 20)) (i32.const 1))))
          ;; Apply it.
          (if (global.get $strict)
            (then (i32.atomic.store (i32.add (local.get $at) (i32.const 4)) (local.get $hash)))
            (else (i32.store (i32.add (local.get $at) (i32.const 4)) (local.get $hash))))
          (if (global.get $strict)
            (then (i32.atomic.store (i32.add (local.get $at) (i32.const 8)) (local.get $ref)))
            (else (i32.store (i32.add (local.get $at) (i32.const 8)) (local.get $ref))))
          (if (global.get $strict)
            (then (i32.atomic.store (i32.add (local.get $at) (i32.const 12)) (local.get $lo)))
            (else (i32.store (i32.add (local.get $at) (i32.const 12)) (local.get $lo))))
          (if (i32.eq (global.get $stride) (i32.const 5))
            (then (if (global.get $strict)
                    (then (i32.atomic.store (i32.add (local.get $at) (i32.const 16)) (local.get $hi)))
                    (else (i32.store (i32.add (local.get $at) (i32.const 16)) (local.get $hi))))))
          ;; A new entry (EMPTY or TOMBSTONE before): count it, and say so.
          (if (i32.ne (local.get $state) (i32.const 2))
            (then
              (drop (i32.atomic.rmw.add (local.get $b) (i32.const 1)))
              (if (global.get $strict)
                (then (i32.atomic.store (i32.add (local.get $r) (i32.const 20)) (i32.const 5)))
                (else (i32.store (i32.add (local.get $r) (i32.const 20)) (i32.const 5))))))
          ;; Release: publishes hash, key block, value and FULL together.
          (i32.atomic.store (local.get $at)
            (i32.or (i32.add (i32.and (local.get $seq) (i32.const -8)) (i32.const 8)) (i32.const 2)))
          (i32.store offset=20 (local.get $r) (i32.const 0)) ;; clear: INTENT = NONE
          (i32.store offset=8 (local.get $r) (i32.const 0))
          (if (global.get $strict)
            (then (i32.atomic.store (i32.add (local.get $r) (i32.const 4)) (i32.const 0)))
            (else (i32.store (i32.add (local.get $r) (i32.const 4)) (i32.const 0))))
          ;; STORED_BLOCK (EMPTY: the slot took keyRef), INSERTED (a tombstone of the key) or OVERWROTE.
          (if (i32.eqz (local.get $state)) (then (return (i32.const 4))))
          (return (select (i32.const 2) (i32.const 1) (i32.eq (local.get $state) (i32.const 2)))))
        (local.set $slot (i32.add (local.get $slot) (i32.const 1)))
        (if (i32.ge_u (local.get $slot) (local.get $capacity)) (then (local.set $slot (i32.const 0))))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br_if $probe (i32.ge_s (local.get $n) (i32.const 0)))))
    ;; SLOW: nothing changed; idle again.
    (if (global.get $strict)
      (then (i32.atomic.store (i32.add (local.get $r) (i32.const 4)) (i32.const 0)))
      (else (i32.store (i32.add (local.get $r) (i32.const 4)) (i32.const 0))))
    (i32.const 0))

  ;; Delete int32 key k (hash: its hash) from the table of generation gen.
  ;; $unused makes the signature putI32's: V8 11.3 then compiles one JS-to-wasm
  ;; wrapper for both (lib/wasm/warm-up.ts).
  (func (export "deleteI32")
    (param $k i32) (param $hash i32) (param $unused i32) (param $slots i32) (param $capacity i32) (param $gen i32) (param $base i32) (result i32)
    (local $r i32) (local $epoch i32) (local $slot i32) (local $at i32) (local $seq i32)
    (local $state i32) (local $n i32)
    (local.set $r (global.get $rec))
    (if (i32.eqz (local.get $r)) (then (return (i32.const 0))))
    (local.set $epoch (i32.shl (local.get $gen) (i32.const 2)))
    (if (i32.ne (i32.atomic.load (i32.const 128)) (local.get $epoch)) (then (return (i32.const 0))))
    (block $slow
      (i32.atomic.store offset=4 (local.get $r) (i32.add (local.get $gen) (i32.const 1)))
      (br_if $slow (i32.ne (i32.atomic.load (i32.const 128)) (local.get $epoch)))
      ;; Home slot floor(hash * capacity / 2^32) (lib/table.ts homeSlot).
      (local.set $slot (i32.wrap_i64 (i64.shr_u
        (i64.mul (i64.extend_i32_u (local.get $hash)) (i64.extend_i32_u (local.get $capacity)))
        (i64.const 32))))
      (local.set $n (i32.sub (local.get $capacity) (i32.const 1)))
      (loop $probe
        (local.set $at (i32.shl (i32.add (local.get $slots) (i32.mul (local.get $slot) (global.get $stride))) (i32.const 2)))
        (local.set $seq (i32.atomic.load (local.get $at)))
        (br_if $slow (i32.and (local.get $seq) (i32.const 1)))
        (local.set $state (i32.and (local.get $seq) (i32.const 6)))
        ;; EMPTY: absent, provided table g was still current when we saw it.
        (if (i32.eqz (local.get $state))
          (then
            (br_if $slow (i32.ne (i32.shr_u (i32.atomic.load (i32.const 128)) (i32.const 2)) (local.get $gen)))
            (if (global.get $strict)
              (then (i32.atomic.store (i32.add (local.get $r) (i32.const 4)) (i32.const 0)))
              (else (i32.store (i32.add (local.get $r) (i32.const 4)) (i32.const 0))))
            (return (i32.const 2))))
        (if (i32.eq (i32.atomic.load offset=4 (local.get $at)) (local.get $k))
          (then
            ;; A tombstone of the key: absent, if nothing moved meanwhile.
            (if (i32.eq (local.get $state) (i32.const 4))
              (then
                (br_if $slow (i32.ne (i32.shr_u (i32.atomic.load (i32.const 128)) (i32.const 2)) (local.get $gen)))
                (br_if $slow (i32.ne (i32.atomic.load (local.get $at)) (local.get $seq)))
                (if (global.get $strict)
                  (then (i32.atomic.store (i32.add (local.get $r) (i32.const 4)) (i32.const 0)))
                  (else (i32.store (i32.add (local.get $r) (i32.const 4)) (i32.const 0))))
                (return (i32.const 2))))
            ;; FULL: lock intent, then the lock.
            (i32.store offset=8 (local.get $r) (i32.shr_u (local.get $at) (i32.const 2)))
            (i32.store offset=12 (local.get $r) (local.get $seq))
            (if (i32.ne
                  (i32.atomic.rmw.cmpxchg (local.get $at) (local.get $seq)
                    (i32.or (i32.or (i32.shl (global.get $tag) (i32.const 3)) (local.get $state)) (i32.const 1)))
                  (local.get $seq))
              (then (i32.store offset=20 (local.get $r) (i32.const 0)) ;; clear: INTENT = NONE
                    (i32.store offset=8 (local.get $r) (i32.const 0)) (br $slow)))
            (if (i32.ne (i32.atomic.load (i32.const 128)) (local.get $epoch))
              (then
                (i32.atomic.store (local.get $at) (local.get $seq))
                (i32.store offset=20 (local.get $r) (i32.const 0)) ;; clear: INTENT = NONE
                (i32.store offset=8 (local.get $r) (i32.const 0))
                (br $slow)))
            ;; Commit, count, say so, release as TOMBSTONE (the key stays).
            (i32.store offset=24 (local.get $r) (local.get $base))
            (if (global.get $strict)
              (then (i32.atomic.store (i32.add (local.get $r) (i32.const 20)) (i32.const 2)))
              (else (i32.store (i32.add (local.get $r) (i32.const 20)) (i32.const 2))))
            (drop (i32.atomic.rmw.sub (i32.shl (local.get $base) (i32.const 2)) (i32.const 1)))
            (if (global.get $strict)
              (then (i32.atomic.store (i32.add (local.get $r) (i32.const 20)) (i32.const 6)))
              (else (i32.store (i32.add (local.get $r) (i32.const 20)) (i32.const 6))))
            (i32.atomic.store (local.get $at)
              (i32.or (i32.add (i32.and (local.get $seq) (i32.const -8)) (i32.const 8)) (i32.const 4)))
            (i32.store offset=20 (local.get $r) (i32.const 0)) ;; clear: INTENT = NONE
            (i32.store offset=8 (local.get $r) (i32.const 0))
            (if (global.get $strict)
              (then (i32.atomic.store (i32.add (local.get $r) (i32.const 4)) (i32.const 0)))
              (else (i32.store (i32.add (local.get $r) (i32.const 4)) (i32.const 0))))
            (return (i32.const 1))))
        (local.set $slot (i32.add (local.get $slot) (i32.const 1)))
        (if (i32.ge_u (local.get $slot) (local.get $capacity)) (then (local.set $slot (i32.const 0))))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br_if $probe (i32.ge_s (local.get $n) (i32.const 0)))))
    (if (global.get $strict)
      (then (i32.atomic.store (i32.add (local.get $r) (i32.const 4)) (i32.const 0)))
      (else (i32.store (i32.add (local.get $r) (i32.const 4)) (i32.const 0))))
    (i32.const 0))

  ;; Delete string key (hash, header, w0..w7 as for putStr*) from the table of
  ;; generation gen, as deleteI32: DEL_DELETED, DEL_ABSENT or DEL_SLOW. After
  ;; DEL_DELETED, lastOld() is the deleted slot's value word (for arena values
  ;; the value block, which the caller frees). $unused and $unusedRef make the
  ;; signature putStrI32's: one JS-to-wasm wrapper for both (lib/wasm/warm-up.ts).
  (func (export "deleteStr")
    (param $hash i32) (param $header i32) (param $w0 i32) (param $w1 i32) (param $w2 i32) (param $w3 i32)
    (param $w4 i32) (param $w5 i32) (param $w6 i32) (param $w7 i32) (param $unused i32)
    (param $slots i32) (param $capacity i32) (param $gen i32) (param $base i32) (param $unusedRef i32)
    (result i32)
    (local $r i32) (local $epoch i32) (local $slot i32) (local $at i32) (local $seq i32)
    (local $state i32) (local $n i32) (local $units i32) (local $nwords i32) (local $tailmask i32)
    (local $memWords i32) (local $ref i32) (local $kb i32)
    (local.set $r (global.get $rec))
    (if (i32.eqz (local.get $r)) (then (return (i32.const 0))))
    (local.set $epoch (i32.shl (local.get $gen) (i32.const 2)))
    (if (i32.ne (i32.atomic.load (i32.const 128)) (local.get $epoch)) (then (return (i32.const 0))))
    (local.set $units (i32.shr_u (local.get $header) (i32.const 2)))
    (local.set $nwords (i32.shr_u (i32.add (local.get $units) (i32.const 3)) (i32.const 2)))
    (local.set $tailmask
      (select
        (i32.sub (i32.shl (i32.const 1) (i32.shl (i32.and (local.get $units) (i32.const 3)) (i32.const 3))) (i32.const 1))
        (i32.const -1)
        (i32.and (local.get $units) (i32.const 3))))
    (local.set $memWords (i32.shl (memory.size) (i32.const 14)))
    (block $slow
      (i32.atomic.store offset=4 (local.get $r) (i32.add (local.get $gen) (i32.const 1)))
      (br_if $slow (i32.ne (i32.atomic.load (i32.const 128)) (local.get $epoch)))
      ;; Home slot floor(hash * capacity / 2^32) (lib/table.ts homeSlot).
      (local.set $slot (i32.wrap_i64 (i64.shr_u
        (i64.mul (i64.extend_i32_u (local.get $hash)) (i64.extend_i32_u (local.get $capacity)))
        (i64.const 32))))
      (local.set $n (i32.sub (local.get $capacity) (i32.const 1)))
      (loop $probe
        (block $next
          (local.set $at (i32.shl (i32.add (local.get $slots) (i32.mul (local.get $slot) (global.get $stride))) (i32.const 2)))
          (local.set $seq (i32.atomic.load (local.get $at)))
          (br_if $slow (i32.and (local.get $seq) (i32.const 1)))
          (local.set $state (i32.and (local.get $seq) (i32.const 6)))
          ;; EMPTY: absent, provided table g was still current when we saw it.
          (if (i32.eqz (local.get $state))
            (then
              (br_if $slow (i32.ne (i32.shr_u (i32.atomic.load (i32.const 128)) (i32.const 2)) (local.get $gen)))
              (if (global.get $strict)
                (then (i32.atomic.store (i32.add (local.get $r) (i32.const 4)) (i32.const 0)))
                (else (i32.store (i32.add (local.get $r) (i32.const 4)) (i32.const 0))))
              (return (i32.const 2))))
          (br_if $next (i32.ne (i32.atomic.load offset=4 (local.get $at)) (local.get $hash)))
          (local.set $ref (i32.atomic.load offset=8 (local.get $at)))
          ;; NULL_BLOCK: a reclaimed TOMBSTONE's key, next slot; in a FULL slot, garbage: hand back.
          (if (i32.eqz (local.get $ref))
            (then
              (br_if $next (i32.eq (local.get $state) (i32.const 4)))
              (br $slow)))
          (br_if $slow (i32.ge_u (local.get $ref) (local.get $memWords)))
          (local.set $kb (i32.shl (local.get $ref) (i32.const 2)))
          (br_if $slow (i32.gt_u
            (i32.add (local.get $ref) (i32.add (local.get $nwords) (i32.const 1)))
            (local.get $memWords)))
          (br_if $next (i32.ne (i32.atomic.load (local.get $kb)) (local.get $header)))
          (if (i32.gt_u (local.get $nwords) (i32.const 0))
            (then (br_if $next (i32.ne
              (i32.and (i32.atomic.load offset=4 (local.get $kb))
                (select (local.get $tailmask) (i32.const -1) (i32.eq (local.get $nwords) (i32.const 1))))
              (local.get $w0)))))
          (if (i32.gt_u (local.get $nwords) (i32.const 1))
            (then (br_if $next (i32.ne
              (i32.and (i32.atomic.load offset=8 (local.get $kb))
                (select (local.get $tailmask) (i32.const -1) (i32.eq (local.get $nwords) (i32.const 2))))
              (local.get $w1)))))
          (if (i32.gt_u (local.get $nwords) (i32.const 2))
            (then (br_if $next (i32.ne
              (i32.and (i32.atomic.load offset=12 (local.get $kb))
                (select (local.get $tailmask) (i32.const -1) (i32.eq (local.get $nwords) (i32.const 3))))
              (local.get $w2)))))
          (if (i32.gt_u (local.get $nwords) (i32.const 3))
            (then (br_if $next (i32.ne
              (i32.and (i32.atomic.load offset=16 (local.get $kb))
                (select (local.get $tailmask) (i32.const -1) (i32.eq (local.get $nwords) (i32.const 4))))
              (local.get $w3)))))
          (if (i32.gt_u (local.get $nwords) (i32.const 4))
            (then (br_if $next (i32.ne
              (i32.and (i32.atomic.load offset=20 (local.get $kb))
                (select (local.get $tailmask) (i32.const -1) (i32.eq (local.get $nwords) (i32.const 5))))
              (local.get $w4)))))
          (if (i32.gt_u (local.get $nwords) (i32.const 5))
            (then (br_if $next (i32.ne
              (i32.and (i32.atomic.load offset=24 (local.get $kb))
                (select (local.get $tailmask) (i32.const -1) (i32.eq (local.get $nwords) (i32.const 6))))
              (local.get $w5)))))
          (if (i32.gt_u (local.get $nwords) (i32.const 6))
            (then (br_if $next (i32.ne
              (i32.and (i32.atomic.load offset=28 (local.get $kb))
                (select (local.get $tailmask) (i32.const -1) (i32.eq (local.get $nwords) (i32.const 7))))
              (local.get $w6)))))
          (if (i32.gt_u (local.get $nwords) (i32.const 7))
            (then (br_if $next (i32.ne
              (i32.and (i32.atomic.load offset=32 (local.get $kb))
                (select (local.get $tailmask) (i32.const -1) (i32.eq (local.get $nwords) (i32.const 8))))
              (local.get $w7)))))
          ;; The key's slot. A tombstone: absent, if nothing moved meanwhile.
          (if (i32.eq (local.get $state) (i32.const 4))
            (then
              (br_if $slow (i32.ne (i32.shr_u (i32.atomic.load (i32.const 128)) (i32.const 2)) (local.get $gen)))
              (br_if $slow (i32.ne (i32.atomic.load (local.get $at)) (local.get $seq)))
              (if (global.get $strict)
                (then (i32.atomic.store (i32.add (local.get $r) (i32.const 4)) (i32.const 0)))
                (else (i32.store (i32.add (local.get $r) (i32.const 4)) (i32.const 0))))
              (return (i32.const 2))))
          ;; FULL: lock intent, then the lock.
          (i32.store offset=8 (local.get $r) (i32.shr_u (local.get $at) (i32.const 2)))
          (i32.store offset=12 (local.get $r) (local.get $seq))
          (if (i32.ne
                (i32.atomic.rmw.cmpxchg (local.get $at) (local.get $seq)
                  (i32.or (i32.or (i32.shl (global.get $tag) (i32.const 3)) (local.get $state)) (i32.const 1)))
                (local.get $seq))
            (then (i32.store offset=20 (local.get $r) (i32.const 0)) ;; clear: INTENT = NONE
                  (i32.store offset=8 (local.get $r) (i32.const 0)) (br $slow)))
          (if (i32.ne (i32.atomic.load (i32.const 128)) (local.get $epoch))
            (then
              (i32.atomic.store (local.get $at) (local.get $seq))
              (i32.store offset=20 (local.get $r) (i32.const 0)) ;; clear: INTENT = NONE
              (i32.store offset=8 (local.get $r) (i32.const 0))
              (br $slow)))
          ;; The value word, read under the lock (an arena value's block is freed by the caller).
          (global.set $old (i32.atomic.load offset=12 (local.get $at)))
          ;; Commit, count, say so, release as TOMBSTONE (the key and its block stay).
          (i32.store offset=24 (local.get $r) (local.get $base))
          (if (global.get $strict)
            (then (i32.atomic.store (i32.add (local.get $r) (i32.const 20)) (i32.const 2)))
            (else (i32.store (i32.add (local.get $r) (i32.const 20)) (i32.const 2))))
          (drop (i32.atomic.rmw.sub (i32.shl (local.get $base) (i32.const 2)) (i32.const 1)))
          (if (global.get $strict)
            (then (i32.atomic.store (i32.add (local.get $r) (i32.const 20)) (i32.const 6)))
            (else (i32.store (i32.add (local.get $r) (i32.const 20)) (i32.const 6))))
          (i32.atomic.store (local.get $at)
            (i32.or (i32.add (i32.and (local.get $seq) (i32.const -8)) (i32.const 8)) (i32.const 4)))
          (i32.store offset=20 (local.get $r) (i32.const 0)) ;; clear: INTENT = NONE
          (i32.store offset=8 (local.get $r) (i32.const 0))
          (if (global.get $strict)
            (then (i32.atomic.store (i32.add (local.get $r) (i32.const 4)) (i32.const 0)))
            (else (i32.store (i32.add (local.get $r) (i32.const 4)) (i32.const 0))))
          (return (i32.const 1)))
        (local.set $slot (i32.add (local.get $slot) (i32.const 1)))
        (if (i32.ge_u (local.get $slot) (local.get $capacity)) (then (local.set $slot (i32.const 0))))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br_if $probe (i32.ge_s (local.get $n) (i32.const 0)))))
    (if (global.get $strict)
      (then (i32.atomic.store (i32.add (local.get $r) (i32.const 4)) (i32.const 0)))
      (else (i32.store (i32.add (local.get $r) (i32.const 4)) (i32.const 0))))
    (i32.const 0))

  (func (export "lastOld") (result i32) (global.get $old))

  ;; Copy old slots first .. end-1 (of the table whose slot 0 is word `old`)
  ;; into the table whose slot 0 is word `slots` and whose region starts at
  ;; word `base`. hashMode 0: the hash is slot word 1 (string keys); 1: it is
  ;; fmix32(slot word 1 ^ seed) (int32 keys, built-in murmur3).
  (func (export "copyRange")
    (param $old i32) (param $first i32) (param $end i32) (param $slots i32) (param $capacity i32) (param $base i32) (param $hashMode i32) (result i32)
    (local $r i32) (local $i i32) (local $at i32) (local $seq i32) (local $h i32) (local $slot i32)
    (local $t i32) (local $cur i32) (local $w i32) (local $copied i32) (local $same i32)
    (local $addr i32) (local $v i32)
    (local.set $r (global.get $rec))
    (local.set $i (local.get $first))
    (block $stop
      (br_if $stop (i32.eqz (local.get $r)))
      (loop $slotLoop
        (br_if $stop (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $at (i32.shl (i32.add (local.get $old) (i32.mul (local.get $i) (global.get $stride))) (i32.const 2)))
        (local.set $seq (i32.atomic.load (local.get $at)))
        (br_if $stop (i32.and (local.get $seq) (i32.const 1)))
        (block $next
          (br_if $next (i32.ne (i32.and (local.get $seq) (i32.const 6)) (i32.const 2)))
          (local.set $h (i32.atomic.load offset=4 (local.get $at)))
          (if (local.get $hashMode)
            (then
              ;; murmur3's fmix32 of key ^ seed (lib/hashers/murmur3.ts), inline.
              (local.set $h (i32.xor (local.get $h) (global.get $seed)))
              (local.set $h (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 16))))
              (local.set $h (i32.mul (local.get $h) (i32.const 0x85ebca6b)))
              (local.set $h (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 13))))
              (local.set $h (i32.mul (local.get $h) (i32.const 0xc2b2ae35)))
              (local.set $h (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 16))))))
          ;; Home slot floor(hash * capacity / 2^32) (lib/table.ts homeSlot).
          (local.set $slot (i32.wrap_i64 (i64.shr_u
            (i64.mul (i64.extend_i32_u (local.get $h)) (i64.extend_i32_u (local.get $capacity)))
            (i64.const 32))))
          (loop $probe
            (local.set $t (i32.shl (i32.add (local.get $slots) (i32.mul (local.get $slot) (global.get $stride))) (i32.const 2)))
            (local.set $cur (i32.atomic.load (local.get $t)))
            (if (i32.eqz (local.get $cur))
              (then
                (i32.store offset=8 (local.get $r) (i32.shr_u (local.get $t) (i32.const 2)))
                (i32.store offset=12 (local.get $r) (i32.const 0))
                ;; Stage slot words 1 .. stride-1 (table g is read-only while COPYING).
                (local.set $w (i32.const 1))
                (loop $stage
                  (i32.store offset=28
                    (i32.add (local.get $r) (i32.shl (local.get $w) (i32.const 2)))
                    (i32.atomic.load (i32.add (local.get $at) (i32.shl (local.get $w) (i32.const 2)))))
                  (local.set $w (i32.add (local.get $w) (i32.const 1)))
                  (br_if $stage (i32.lt_u (local.get $w) (global.get $stride))))
                (i32.store offset=24 (local.get $r) (local.get $base))
                (if (global.get $strict)
                  (then (i32.atomic.store (i32.add (local.get $r) (i32.const 20)) (i32.const 3)))
                  (else (i32.store (i32.add (local.get $r) (i32.const 20)) (i32.const 3))))
                (if (i32.eqz (i32.atomic.rmw.cmpxchg (local.get $t) (i32.const 0)
                      (i32.or (i32.shl (global.get $tag) (i32.const 3)) (i32.const 1))))
                  (then
                    ;; Plain stores on x86: nobody reads table g+1 before the flip.
                    (local.set $w (i32.const 1))
                    (loop $apply
                      (local.set $addr (i32.add (local.get $t) (i32.shl (local.get $w) (i32.const 2))))
                      (local.set $v (i32.load offset=28 (i32.add (local.get $r) (i32.shl (local.get $w) (i32.const 2)))))
                      (if (global.get $strict)
                        (then (i32.atomic.store (local.get $addr) (local.get $v)))
                        (else (i32.store (local.get $addr) (local.get $v))))
                      (local.set $w (i32.add (local.get $w) (i32.const 1)))
                      (br_if $apply (i32.lt_u (local.get $w) (global.get $stride))))
                    (local.set $v (i32.const 10)) ;; released(EMPTY, FULL)
                    (if (global.get $strict)
                      (then (i32.atomic.store (local.get $t) (local.get $v)))
                      (else (i32.store (local.get $t) (local.get $v))))
                    (i32.store offset=20 (local.get $r) (i32.const 0)) ;; clear: INTENT = NONE
                    (i32.store offset=8 (local.get $r) (i32.const 0))
                    (local.set $copied (i32.add (local.get $copied) (i32.const 1)))
                    (br $next)))
                (i32.store offset=20 (local.get $r) (i32.const 0)) ;; clear: INTENT = NONE
                (i32.store offset=8 (local.get $r) (i32.const 0))
                (br $probe)))
            (br_if $stop (i32.and (local.get $cur) (i32.const 1)))
            ;; FULL in table g+1: this entry, copied before by a helper that did not finish?
            (local.set $same (i32.const 1))
            (local.set $w (i32.const 1))
            (loop $compare
              (if (i32.ne
                    (i32.atomic.load (i32.add (local.get $at) (i32.shl (local.get $w) (i32.const 2))))
                    (i32.atomic.load (i32.add (local.get $t) (i32.shl (local.get $w) (i32.const 2)))))
                (then (local.set $same (i32.const 0))))
              (local.set $w (i32.add (local.get $w) (i32.const 1)))
              (br_if $compare (i32.lt_u (local.get $w) (global.get $stride))))
            (if (local.get $same)
              (then
                (local.set $copied (i32.add (local.get $copied) (i32.const 1)))
                (br $next)))
            (local.set $slot (i32.add (local.get $slot) (i32.const 1)))
            (if (i32.ge_u (local.get $slot) (local.get $capacity)) (then (local.set $slot (i32.const 0))))
            (br $probe)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $slotLoop)))
    (global.set $stop (local.get $i))
    (local.get $copied))
)
