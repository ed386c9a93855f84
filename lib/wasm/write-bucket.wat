;; flatshare layout 6: the fast write paths over cache-line buckets for int32
;; keys, in WebAssembly (the bucket form of write-int32.wat's putI32 / addI32 /
;; putF64 / deleteI32):
;; - putI32 / putF64: SharedFlatMap.set for int32 keys with int32 (7 lanes a
;;   bucket) or float64 values (4 lanes), when nothing needs waiting for;
;; - addI32: add for int32 values, as putI32 with value + delta under the lock;
;; - deleteI32: delete for the same maps;
;; - putStrI32 / putStrF64 / deleteStr: set and delete of short one-byte
;;   string keys (built-in murmur3), the key matched by its HASH column and
;;   its key block as read-bucket.wat's findStr does (`$blockEquals` is a copy
;;   of that module's: modules do not share functions), the writes as putI32's;
;; - copyBuckets: the migration copy of a run of old buckets into the new
;;   table (lib/bucket-copy.ts copyBucket, step for step), for every key kind:
;;   int32 keys hashed by the built-in murmur3 (fmix32 inline) and string keys
;;   (their HASH column).
;; The steps and their order are those of lib/bucket-write.ts (findLane,
;; tryLockBucket, putLane, deleteLane), so recovery repairs a thread killed in
;; here like one killed in the JS path: V8 stops wasm only at function entries
;; and loop back edges, and this code's only loop walks to the next bucket,
;; before any lock is taken (what it may have done by then is OR OVERFLOW
;; into buckets it walked past, which is harmless on its own).
;;
;; Bucket (lib/bucket.ts): SEQ (byte 0), META (byte 4: OCCUPIED bits 0..6,
;; TOMBSTONE bits 8..14, OVERFLOW bit 16), keys from byte 8 (column 0), value
;; columns after them: int32 values at 8 + 4 * lanes, float64 low words there
;; and high words at 8 + 8 * lanes.
;;
;; Writers (put):
;;   epoch == STABLE(gen), else SLOW; ACTIVE_GEN = gen + 1 (atomic: the Dekker
;;   handshake with the region allocator); epoch re-read, else SLOW;
;;   walk from the home bucket floor(hash * buckets / 2^32); per bucket SEQ,
;;   META, the key against the OCCUPIED lanes (SIMD);
;;   locked and (holding the key or with an EMPTY lane) -> SLOW (the JS path waits);
;;   the key in lane l -> lock the bucket: LOCK_AT, LOCK_SEQ (plain), CAS SEQ ->
;;   lockWord(tag, SEQ) (lost: clear, SLOW), epoch re-read (else restore, SLOW);
;;   an EMPTY lane (and no key before it) -> the same lock, then one unit of
;;   REMAINING (none: give it back, restore, SLOW), lane = first EMPTY lane;
;;   neither: OVERFLOW ORed in unless set, the next bucket;
;;   stage LANE_INFO (lane | state << 4), key, value words; INTENT_TABLE;
;;   INTENT = PUT (commit); the lane's words; META (EMPTY: OR OCCUPIED,
;;   TOMBSTONE: AND ~TOMBSTONE); not FULL before: SIZE + 1, INTENT |= SIZED;
;;   release: SEQ = (SEQ & ~7) + 8; clear INTENT, LOCK_AT; ACTIVE_GEN = 0.
;;   Returns INSERTED (the lane was EMPTY or a TOMBSTONE) or OVERWROTE.
;; add (addI32): a FULL lane's value becomes value + delta (an int32 overflow
;;   restores SEQ and hands back: SLOW with handedBack() = 1); otherwise delta.
;; Delete (deleteI32): the same entry and walk without OVERFLOW ORs; the key
;;   FULL -> lock as above; LANE_INFO; INTENT = DELETE (commit); META OR
;;   TOMBSTONE; SIZE - 1; INTENT |= SIZED; release; clear; idle -> DELETED.
;;   The key a TOMBSTONE, or the chain's end without it (an EMPTY lane, or no
;;   OVERFLOW) -> ABSENT, if SEQ of that bucket and the generation are
;;   unchanged on a second look (else SLOW).
;; Copy (copyBuckets), per old bucket, as copyBucket: SEQ locked -> stop here
;;   (the JS copy waits for it); every FULL lane: its hash; walk table g+1 from
;;   the home bucket: a locked bucket -> stop here; a lane with the same key
;;   words -> copied before; the first bucket with an EMPTY lane -> LOCK_AT,
;;   LOCK_SEQ, LANE_INFO and the lane's words staged, INTENT_TABLE, INTENT =
;;   COPY, CAS SEQ (lost: clear, read the bucket again), the lane's words, OR
;;   OCCUPIED, release, clear; a full bucket -> OR OVERFLOW, the next one.
;;   Returns the entries of the old buckets it finished; stoppedAt() is the
;;   first old bucket not finished (end when all were). The JS copy redoes a
;;   bucket it stopped in, and skips the lanes copied already.
;; SLOW means "nothing changed; run the JS path": every SLOW exit has restored
;; what it touched (SEQ, REMAINING) and leaves ACTIVE_GEN idle.
;;
;; Memory ordering: as write-int32.wat. Loads atomic; the stores the JS path
;; makes with Atomics on every CPU (ACTIVE_GEN, the CAS, REMAINING, SIZE, META,
;; the release) are atomic here; those it makes with storeWord (the intent
;; commit, INTENT_SIZED, the lane's words, the idle store) are plain when
;; `strict` is 0 (x86) and atomic otherwise.
;;
;; Layout constants (spec/unit/bucket-write-path.test.ts checks each against lib/):
;; const EPOCH_BYTES = 128         ;; H_EPOCH * 4
;; const GEN_SHIFT = 2             ;; epoch.ts; PHASE_STABLE is 0
;; const BUCKET_SHIFT = 6          ;; log2(BUCKET_INTS * 4)
;; const META_BYTES = 4            ;; B_META * 4
;; const KEYS_BYTES = 8            ;; B_LANES * 4
;; const TOMBSTONE_SHIFT = 8
;; const OVERFLOW = 65536
;; const OWNER_TAG_SHIFT = 3       ;; seqlock.ts
;; const VERSION_MASK = -8         ;; ~7
;; const VERSION_ONE = 8
;; const W_ACTIVE_GEN_BYTES = 4
;; const W_LOCK_AT_BYTES = 8
;; const W_LOCK_SEQ_BYTES = 12
;; const W_INTENT_BYTES = 20
;; const W_INTENT_TABLE_BYTES = 24
;; const P_LANE_INFO_BYTES = 32    ;; (W_INTENT_PAYLOAD + P_LANE_INFO) * 4
;; const P_KEY_BYTES = 36          ;; (W_INTENT_PAYLOAD + P_LANE_WORDS) * 4
;; const P_LOW_BYTES = 40
;; const P_HIGH_BYTES = 44
;; const LANE_INFO_STATE_SHIFT = 4
;; const LANE_EMPTY = 0
;; const LANE_FULL = 1
;; const LANE_TOMBSTONE = 2
;; const T_SIZE_BYTES = 0
;; const T_REMAINING_BYTES = 64
;; const INTENT_PUT = 1
;; const INTENT_DELETE = 2
;; const INTENT_SIZED = 4
;; const PUT_SLOW = 0
;; const PUT_INSERTED = 1
;; const PUT_OVERWROTE = 2
;; const DEL_SLOW = 0
;; const DEL_DELETED = 1
;; const DEL_ABSENT = 2
;; const ADD_SLOW_RESULT = -2147483648
;; const INTENT_COPY = 3
;; const PUT_NEED_BLOCK = 3
;; const PUT_STORED_BLOCK = 4
;; const FMIX_C1 = 2246822507      ;; hashers/murmur3.ts (0x85ebca6b)
;; const FMIX_C2 = 3266489909      ;; hashers/murmur3.ts (0xc2b2ae35)
(module
  (import "env" "memory" (memory 1 65536 shared))

  ;; Per instance (one map in one thread), set by the JS side.
  (global $wide (mut i32) (i32.const 0))   ;; 1: float64 values (4 lanes); 0: int32 values (7 lanes)
  (global $strict (mut i32) (i32.const 1)) ;; 1: every store atomic (not x86)
  (global $rec (mut i32) (i32.const 0))    ;; byte address of this thread's writer record; 0 = none
  (global $tag (mut i32) (i32.const 0))    ;; that record's tag
  (global $handedBack (mut i32) (i32.const 0))
  ;; copyBuckets' geometry: lanes a bucket, words a lane, key words a lane; the murmur3 seed.
  (global $cLanes (mut i32) (i32.const 7))
  (global $cLaneInts (mut i32) (i32.const 2))
  (global $cKeyInts (mut i32) (i32.const 1))
  (global $seed (mut i32) (i32.const 0))
  (global $stop (mut i32) (i32.const 0))
  (global $old (mut i32) (i32.const 0))    ;; deleteStr: the value word of the lane it deleted

  (func (export "configureCopy") (param $lanes i32) (param $laneInts i32) (param $keyInts i32) (param $seed i32)
    (global.set $cLanes (local.get $lanes))
    (global.set $cLaneInts (local.get $laneInts))
    (global.set $cKeyInts (local.get $keyInts))
    (global.set $seed (local.get $seed)))

  (func (export "stoppedAt") (result i32) (global.get $stop))

  (func (export "configure") (param $wide i32) (param $strict i32)
    (global.set $wide (local.get $wide))
    (global.set $strict (local.get $strict)))

  ;; rec: word index of the writer record (0 = none), tag: its tag.
  (func (export "setWriter") (param $rec i32) (param $tag i32)
    (global.set $rec (i32.shl (local.get $rec) (i32.const 2)))
    (global.set $tag (local.get $tag)))

  (func (export "handedBack") (result i32) (global.get $handedBack))

  (func (export "putI32")
    (param $k i32) (param $hash i32) (param $v i32) (param $first i32) (param $buckets i32) (param $gen i32) (param $base i32) (result i32)
    (call $put (local.get $k) (local.get $hash) (i64.extend_i32_u (local.get $v)) (local.get $first)
      (local.get $buckets) (local.get $gen) (local.get $base) (i32.const 0)))

  (func (export "addI32")
    (param $k i32) (param $hash i32) (param $delta i32) (param $first i32) (param $buckets i32) (param $gen i32) (param $base i32) (result i32)
    (call $put (local.get $k) (local.get $hash) (i64.extend_i32_u (local.get $delta)) (local.get $first)
      (local.get $buckets) (local.get $gen) (local.get $base) (i32.const 1)))

  (func (export "putF64")
    (param $k i32) (param $hash i32) (param $v f64) (param $first i32) (param $buckets i32) (param $gen i32) (param $base i32) (result i32)
    (call $put (local.get $k) (local.get $hash) (i64.reinterpret_f64 (local.get $v)) (local.get $first)
      (local.get $buckets) (local.get $gen) (local.get $base) (i32.const 0)))

  ;; The OCCUPIED lanes of the bucket at byte `at` (META `meta`) whose key word is `k`, as a bit mask.
  (func $match (param $at i32) (param $meta i32) (param $k i32) (result i32)
    (local $kv v128)
    (local.set $kv (i32x4.splat (local.get $k)))
    (if (result i32) (global.get $wide)
      (then (i32.and
        (i32x4.bitmask (i32x4.eq (v128.load offset=8 (local.get $at)) (local.get $kv)))
        (i32.and (local.get $meta) (i32.const 15))))
      (else (i32.and
        (i32.or
          (i32x4.bitmask (i32x4.eq (v128.load offset=8 (local.get $at)) (local.get $kv)))
          (i32.shl (i32x4.bitmask (i32x4.eq (v128.load offset=24 (local.get $at)) (local.get $kv))) (i32.const 4)))
        (i32.and (local.get $meta) (i32.const 127))))))

  ;; val: the value words, low word first (the high word only for float64).
  ;; add: 0 for put; 1 for addI32 (val is the delta, int32 values only).
  (func $put
    (param $k i32) (param $hash i32) (param $val i64) (param $first i32) (param $buckets i32) (param $gen i32) (param $base i32) (param $add i32) (result i32)
    (local $r i32) (local $epoch i32) (local $bk i32) (local $at i32) (local $seq i32) (local $meta i32)
    (local $m i32) (local $free i32) (local $lane i32) (local $state i32) (local $steps i32)
    (local $b i32) (local $lo i32) (local $hi i32) (local $lanes4 i32) (local $mask i32) (local $v i32)
    (local $slowResult i32) (local $cur i32)
    (local.set $slowResult (select (i32.const 0x80000000) (i32.const 0) (local.get $add)))
    (global.set $handedBack (local.get $add))
    (local.set $r (global.get $rec))
    (if (i32.eqz (local.get $r)) (then (return (local.get $slowResult))))
    (local.set $epoch (i32.shl (local.get $gen) (i32.const 2)))
    (if (i32.ne (i32.atomic.load (i32.const 128)) (local.get $epoch)) (then (return (local.get $slowResult))))
    (local.set $b (i32.shl (local.get $base) (i32.const 2)))
    (local.set $lo (i32.wrap_i64 (local.get $val)))
    (local.set $hi (i32.wrap_i64 (i64.shr_u (local.get $val) (i64.const 32))))
    (local.set $lanes4 (select (i32.const 16) (i32.const 28) (global.get $wide)))
    (local.set $mask (select (i32.const 15) (i32.const 127) (global.get $wide)))
    (block $slow
      ;; Announce generation g (a full fence), then re-read the epoch.
      (i32.atomic.store offset=4 (local.get $r) (i32.add (local.get $gen) (i32.const 1)))
      (br_if $slow (i32.ne (i32.atomic.load (i32.const 128)) (local.get $epoch)))
      (local.set $bk (i32.wrap_i64 (i64.shr_u
        (i64.mul (i64.extend_i32_u (local.get $hash)) (i64.extend_i32_u (local.get $buckets)))
        (i64.const 32))))
      (local.set $at (i32.add (i32.shl (local.get $first) (i32.const 2)) (i32.shl (local.get $bk) (i32.const 6))))
      (loop $walk
        (local.set $seq (i32.atomic.load (local.get $at)))
        (local.set $meta (i32.atomic.load offset=4 (local.get $at)))
        (local.set $m (call $match (local.get $at) (local.get $meta) (local.get $k)))
        (local.set $free (i32.and (i32.xor (local.get $meta) (local.get $mask)) (local.get $mask)))
        (if (i32.and (local.get $seq) (i32.const 1))
          (then (br_if $slow (i32.or (local.get $m) (local.get $free)))))
        (if (i32.or (local.get $m) (local.get $free))
          (then
            ;; Lock intent, then the lock (state bits of a bucket's SEQ are 0).
            (i32.store offset=8 (local.get $r) (i32.shr_u (local.get $at) (i32.const 2)))
            (i32.store offset=12 (local.get $r) (local.get $seq))
            (if (i32.ne
                  (i32.atomic.rmw.cmpxchg (local.get $at) (local.get $seq)
                    (i32.or (i32.shl (global.get $tag) (i32.const 3)) (i32.const 1)))
                  (local.get $seq))
              (then (i32.store offset=20 (local.get $r) (i32.const 0))
                    (i32.store offset=8 (local.get $r) (i32.const 0)) (br $slow)))
            ;; A migration began after our epoch check: table g is read-only, undo.
            (if (i32.ne (i32.atomic.load (i32.const 128)) (local.get $epoch))
              (then
                (i32.atomic.store (local.get $at) (local.get $seq))
                (i32.store offset=20 (local.get $r) (i32.const 0))
                (i32.store offset=8 (local.get $r) (i32.const 0))
                (br $slow)))
            (if (local.get $m)
              (then
                (local.set $lane (i32.ctz (local.get $m)))
                (local.set $state (select (i32.const 2) (i32.const 1)
                  (i32.and (i32.shr_u (local.get $meta) (i32.add (local.get $lane) (i32.const 8))) (i32.const 1)))))
              (else
                ;; An insert: one unit of the insert budget, the first EMPTY lane (META as of the lock).
                (if (i32.le_s (i32.atomic.rmw.sub offset=64 (local.get $b) (i32.const 1)) (i32.const 0))
                  (then
                    (drop (i32.atomic.rmw.add offset=64 (local.get $b) (i32.const 1)))
                    (i32.atomic.store (local.get $at) (local.get $seq))
                    (i32.store offset=20 (local.get $r) (i32.const 0))
                    (i32.store offset=8 (local.get $r) (i32.const 0))
                    (br $slow)))
                (local.set $lane (i32.ctz (i32.and (i32.xor (i32.atomic.load offset=4 (local.get $at)) (local.get $mask)) (local.get $mask))))
                (local.set $state (i32.const 0))))
            (local.set $v (i32.add (local.get $at) (i32.shl (local.get $lane) (i32.const 2))))
            ;; add to a FULL lane: value + delta, unless that overflows int32 (undo, hand back).
            (if (i32.and (local.get $add) (i32.eq (local.get $state) (i32.const 1)))
              (then
                (local.set $cur (i32.atomic.load offset=36 (local.get $v)))
                (if (i32.lt_s
                      (i32.and
                        (i32.xor (local.get $cur) (i32.add (local.get $cur) (local.get $lo)))
                        (i32.xor (local.get $lo) (i32.add (local.get $cur) (local.get $lo))))
                      (i32.const 0))
                  (then
                    (i32.atomic.store (local.get $at) (local.get $seq))
                    (i32.store offset=20 (local.get $r) (i32.const 0))
                    (i32.store offset=8 (local.get $r) (i32.const 0))
                    (br $slow)))
                (local.set $lo (i32.add (local.get $cur) (local.get $lo)))))
            ;; Stage LANE_INFO and the lane's words, commit the intent.
            (i32.store offset=32 (local.get $r) (i32.or (local.get $lane) (i32.shl (local.get $state) (i32.const 4))))
            (i32.store offset=36 (local.get $r) (local.get $k))
            (i32.store offset=40 (local.get $r) (local.get $lo))
            (if (global.get $wide) (then (i32.store offset=44 (local.get $r) (local.get $hi))))
            (i32.store offset=24 (local.get $r) (local.get $base))
            (if (global.get $strict)
              (then (i32.atomic.store offset=20 (local.get $r) (i32.const 1)))
              (else (i32.store offset=20 (local.get $r) (i32.const 1))))
            ;; Apply it: key, value word(s).
            (if (global.get $strict)
              (then
                (i32.atomic.store offset=8 (local.get $v) (local.get $k))
                (i32.atomic.store offset=8 (i32.add (local.get $v) (local.get $lanes4)) (local.get $lo))
                (if (global.get $wide)
                  (then (i32.atomic.store offset=8 (i32.add (local.get $v) (i32.shl (local.get $lanes4) (i32.const 1))) (local.get $hi)))))
              (else
                (i32.store offset=8 (local.get $v) (local.get $k))
                (i32.store offset=8 (i32.add (local.get $v) (local.get $lanes4)) (local.get $lo))
                (if (global.get $wide)
                  (then (i32.store offset=8 (i32.add (local.get $v) (i32.shl (local.get $lanes4) (i32.const 1))) (local.get $hi))))))
            ;; META, then count a new entry (EMPTY or TOMBSTONE before) and say so.
            (if (i32.eqz (local.get $state))
              (then (drop (i32.atomic.rmw.or offset=4 (local.get $at) (i32.shl (i32.const 1) (local.get $lane))))))
            (if (i32.eq (local.get $state) (i32.const 2))
              (then (drop (i32.atomic.rmw.and offset=4 (local.get $at)
                (i32.xor (i32.shl (i32.const 1) (i32.add (local.get $lane) (i32.const 8))) (i32.const -1))))))
            (if (i32.ne (local.get $state) (i32.const 1))
              (then
                (drop (i32.atomic.rmw.add (local.get $b) (i32.const 1)))
                (if (global.get $strict)
                  (then (i32.atomic.store offset=20 (local.get $r) (i32.const 5)))
                  (else (i32.store offset=20 (local.get $r) (i32.const 5))))))
            ;; Release: the version moves on; publishes the lane and META.
            (i32.atomic.store (local.get $at) (i32.add (i32.and (local.get $seq) (i32.const -8)) (i32.const 8)))
            (i32.store offset=20 (local.get $r) (i32.const 0))
            (i32.store offset=8 (local.get $r) (i32.const 0))
            (if (global.get $strict)
              (then (i32.atomic.store offset=4 (local.get $r) (i32.const 0)))
              (else (i32.store offset=4 (local.get $r) (i32.const 0))))
            (global.set $handedBack (i32.const 0))
            (if (local.get $add) (then (return (local.get $lo))))
            (return (select (i32.const 2) (i32.const 1) (i32.eq (local.get $state) (i32.const 1))))))
        ;; Full, without the key: the insert walks on, and readers must follow it.
        (if (i32.eqz (i32.and (local.get $meta) (i32.const 65536)))
          (then (drop (i32.atomic.rmw.or offset=4 (local.get $at) (i32.const 65536)))))
        (local.set $bk (i32.add (local.get $bk) (i32.const 1)))
        (local.set $at (i32.add (local.get $at) (i32.const 64)))
        (if (i32.ge_u (local.get $bk) (local.get $buckets))
          (then (local.set $bk (i32.const 0)) (local.set $at (i32.shl (local.get $first) (i32.const 2)))))
        (local.set $steps (i32.add (local.get $steps) (i32.const 1)))
        (br_if $walk (i32.le_u (local.get $steps) (local.get $buckets)))))
    ;; SLOW: nothing changed; idle again.
    (if (global.get $strict)
      (then (i32.atomic.store offset=4 (local.get $r) (i32.const 0)))
      (else (i32.store offset=4 (local.get $r) (i32.const 0))))
    (local.get $slowResult))

  (func (export "deleteI32")
    (param $k i32) (param $hash i32) (param $first i32) (param $buckets i32) (param $gen i32) (param $base i32) (result i32)
    (local $r i32) (local $epoch i32) (local $bk i32) (local $at i32) (local $seq i32) (local $meta i32)
    (local $m i32) (local $free i32) (local $lane i32) (local $steps i32) (local $b i32) (local $mask i32)
    (local.set $r (global.get $rec))
    (if (i32.eqz (local.get $r)) (then (return (i32.const 0))))
    (local.set $epoch (i32.shl (local.get $gen) (i32.const 2)))
    (if (i32.ne (i32.atomic.load (i32.const 128)) (local.get $epoch)) (then (return (i32.const 0))))
    (local.set $b (i32.shl (local.get $base) (i32.const 2)))
    (local.set $mask (select (i32.const 15) (i32.const 127) (global.get $wide)))
    (block $absent
    (block $slow
      (i32.atomic.store offset=4 (local.get $r) (i32.add (local.get $gen) (i32.const 1)))
      (br_if $slow (i32.ne (i32.atomic.load (i32.const 128)) (local.get $epoch)))
      (local.set $bk (i32.wrap_i64 (i64.shr_u
        (i64.mul (i64.extend_i32_u (local.get $hash)) (i64.extend_i32_u (local.get $buckets)))
        (i64.const 32))))
      (local.set $at (i32.add (i32.shl (local.get $first) (i32.const 2)) (i32.shl (local.get $bk) (i32.const 6))))
      (loop $walk
        (local.set $seq (i32.atomic.load (local.get $at)))
        (local.set $meta (i32.atomic.load offset=4 (local.get $at)))
        (local.set $m (call $match (local.get $at) (local.get $meta) (local.get $k)))
        (local.set $free (i32.and (i32.xor (local.get $meta) (local.get $mask)) (local.get $mask)))
        (br_if $slow (i32.and (i32.and (local.get $seq) (i32.const 1)) (i32.ne (i32.or (local.get $m) (local.get $free)) (i32.const 0))))
        (if (local.get $m)
          (then
            (local.set $lane (i32.ctz (local.get $m)))
            (if (i32.and (i32.shr_u (local.get $meta) (i32.add (local.get $lane) (i32.const 8))) (i32.const 1))
              (then
                ;; A TOMBSTONE of the key: absent, if nothing moved meanwhile.
                (br_if $slow (i32.ne (i32.atomic.load (local.get $at)) (local.get $seq)))
                (br_if $slow (i32.ne (i32.atomic.load (i32.const 128)) (local.get $epoch)))
                (br $absent)))
            (i32.store offset=8 (local.get $r) (i32.shr_u (local.get $at) (i32.const 2)))
            (i32.store offset=12 (local.get $r) (local.get $seq))
            (if (i32.ne
                  (i32.atomic.rmw.cmpxchg (local.get $at) (local.get $seq)
                    (i32.or (i32.shl (global.get $tag) (i32.const 3)) (i32.const 1)))
                  (local.get $seq))
              (then (i32.store offset=20 (local.get $r) (i32.const 0))
                    (i32.store offset=8 (local.get $r) (i32.const 0)) (br $slow)))
            (if (i32.ne (i32.atomic.load (i32.const 128)) (local.get $epoch))
              (then
                (i32.atomic.store (local.get $at) (local.get $seq))
                (i32.store offset=20 (local.get $r) (i32.const 0))
                (i32.store offset=8 (local.get $r) (i32.const 0))
                (br $slow)))
            (i32.store offset=32 (local.get $r) (i32.or (local.get $lane) (i32.const 16))) ;; LANE_INFO: lane, FULL
            (i32.store offset=24 (local.get $r) (local.get $base))
            (if (global.get $strict)
              (then (i32.atomic.store offset=20 (local.get $r) (i32.const 2)))
              (else (i32.store offset=20 (local.get $r) (i32.const 2))))
            (drop (i32.atomic.rmw.or offset=4 (local.get $at) (i32.shl (i32.const 1) (i32.add (local.get $lane) (i32.const 8)))))
            (drop (i32.atomic.rmw.sub (local.get $b) (i32.const 1)))
            (if (global.get $strict)
              (then (i32.atomic.store offset=20 (local.get $r) (i32.const 6)))
              (else (i32.store offset=20 (local.get $r) (i32.const 6))))
            (i32.atomic.store (local.get $at) (i32.add (i32.and (local.get $seq) (i32.const -8)) (i32.const 8)))
            (i32.store offset=20 (local.get $r) (i32.const 0))
            (i32.store offset=8 (local.get $r) (i32.const 0))
            (if (global.get $strict)
              (then (i32.atomic.store offset=4 (local.get $r) (i32.const 0)))
              (else (i32.store offset=4 (local.get $r) (i32.const 0))))
            (return (i32.const 1))))
        ;; The chain ends here (an EMPTY lane, or no OVERFLOW): absent, if nothing moved meanwhile.
        (if (i32.or (local.get $free) (i32.eqz (i32.and (local.get $meta) (i32.const 65536))))
          (then
            (br_if $slow (i32.ne (i32.atomic.load (local.get $at)) (local.get $seq)))
            (br_if $slow (i32.ne (i32.atomic.load (i32.const 128)) (local.get $epoch)))
            (br $absent)))
        (local.set $bk (i32.add (local.get $bk) (i32.const 1)))
        (local.set $at (i32.add (local.get $at) (i32.const 64)))
        (if (i32.ge_u (local.get $bk) (local.get $buckets))
          (then (local.set $bk (i32.const 0)) (local.set $at (i32.shl (local.get $first) (i32.const 2)))))
        (local.set $steps (i32.add (local.get $steps) (i32.const 1)))
        (br_if $walk (i32.le_u (local.get $steps) (local.get $buckets)))))
    ;; SLOW: nothing changed; idle again.
    (if (global.get $strict)
      (then (i32.atomic.store offset=4 (local.get $r) (i32.const 0)))
      (else (i32.store offset=4 (local.get $r) (i32.const 0))))
    (return (i32.const 0)))
    ;; ABSENT: idle again.
    (if (global.get $strict)
      (then (i32.atomic.store offset=4 (local.get $r) (i32.const 0)))
      (else (i32.store offset=4 (local.get $r) (i32.const 0))))
    (i32.const 2))

  ;; oldFirst / newFirst: word index of bucket 0 of table g / g+1; [from, end): old buckets;
  ;; newBase: word index of table g+1's region; hashMode 1: fmix32(key ^ seed), 0: column 0 is the hash.
  (func (export "copyBuckets")
    (param $oldFirst i32) (param $from i32) (param $end i32) (param $newFirst i32) (param $newBuckets i32) (param $newBase i32) (param $hashMode i32) (result i32)
    (local $r i32) (local $i i32) (local $at i32) (local $seq i32) (local $meta i32) (local $full i32) (local $lane i32)
    (local $h i32) (local $bk i32) (local $t i32) (local $cur i32) (local $tmeta i32) (local $tocc i32) (local $l2 i32)
    (local $c i32) (local $same i32) (local $free i32) (local $steps i32) (local $n i32) (local $copied i32)
    (local $mask i32) (local $col i32) (local $v i32)
    (local.set $r (global.get $rec))
    (local.set $i (local.get $from))
    (local.set $mask (i32.sub (i32.shl (i32.const 1) (global.get $cLanes)) (i32.const 1)))
    (local.set $col (i32.shl (global.get $cLanes) (i32.const 2))) ;; bytes from one column to the next
    (block $stop
      (br_if $stop (i32.eqz (local.get $r)))
      (loop $bucketLoop
        (br_if $stop (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $at (i32.add (i32.shl (local.get $oldFirst) (i32.const 2)) (i32.shl (local.get $i) (i32.const 6))))
        (local.set $seq (i32.atomic.load (local.get $at)))
        (br_if $stop (i32.and (local.get $seq) (i32.const 1)))
        (local.set $meta (i32.atomic.load offset=4 (local.get $at)))
        (local.set $full (i32.and
          (i32.and (local.get $meta) (local.get $mask))
          (i32.xor (i32.and (i32.shr_u (local.get $meta) (i32.const 8)) (local.get $mask)) (i32.const -1))))
        (local.set $n (i32.const 0))
        (block $bucketDone
          (loop $laneLoop
            (br_if $bucketDone (i32.eqz (local.get $full)))
            (local.set $lane (i32.ctz (local.get $full)))
            (local.set $full (i32.and (local.get $full) (i32.sub (local.get $full) (i32.const 1))))
            (local.set $h (i32.atomic.load offset=8 (i32.add (local.get $at) (i32.shl (local.get $lane) (i32.const 2)))))
            (if (local.get $hashMode)
              (then
                ;; murmur3's fmix32 of key ^ seed (lib/hashers/murmur3.ts), inline.
                (local.set $h (i32.xor (local.get $h) (global.get $seed)))
                (local.set $h (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 16))))
                (local.set $h (i32.mul (local.get $h) (i32.const 0x85ebca6b)))
                (local.set $h (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 13))))
                (local.set $h (i32.mul (local.get $h) (i32.const 0xc2b2ae35)))
                (local.set $h (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 16))))))
            (local.set $bk (i32.wrap_i64 (i64.shr_u
              (i64.mul (i64.extend_i32_u (local.get $h)) (i64.extend_i32_u (local.get $newBuckets)))
              (i64.const 32))))
            (local.set $t (i32.add (i32.shl (local.get $newFirst) (i32.const 2)) (i32.shl (local.get $bk) (i32.const 6))))
            (local.set $steps (i32.const 0))
            (block $laneDone
              (loop $walk
                (local.set $cur (i32.atomic.load (local.get $t)))
                (br_if $stop (i32.and (local.get $cur) (i32.const 1)))
                (local.set $tmeta (i32.atomic.load offset=4 (local.get $t)))
                (local.set $tocc (i32.and (local.get $tmeta) (local.get $mask)))
                ;; A lane with the same key words: copied before.
                (block $noMatch
                  (loop $compare
                    (br_if $noMatch (i32.eqz (local.get $tocc)))
                    (local.set $l2 (i32.ctz (local.get $tocc)))
                    (local.set $tocc (i32.and (local.get $tocc) (i32.sub (local.get $tocc) (i32.const 1))))
                    (local.set $same (i32.const 1))
                    (local.set $c (i32.const 0))
                    (loop $column
                      (if (i32.ne
                            (i32.atomic.load offset=8 (i32.add (i32.add (local.get $at) (i32.mul (local.get $c) (local.get $col))) (i32.shl (local.get $lane) (i32.const 2))))
                            (i32.atomic.load offset=8 (i32.add (i32.add (local.get $t) (i32.mul (local.get $c) (local.get $col))) (i32.shl (local.get $l2) (i32.const 2)))))
                        (then (local.set $same (i32.const 0))))
                      (local.set $c (i32.add (local.get $c) (i32.const 1)))
                      (br_if $column (i32.lt_u (local.get $c) (global.get $cKeyInts))))
                    (if (local.get $same)
                      (then (local.set $n (i32.add (local.get $n) (i32.const 1))) (br $laneDone)))
                    (br $compare)))
                (local.set $free (i32.and (i32.xor (local.get $tmeta) (local.get $mask)) (local.get $mask)))
                (if (local.get $free)
                  (then
                    (local.set $l2 (i32.ctz (local.get $free)))
                    (i32.store offset=8 (local.get $r) (i32.shr_u (local.get $t) (i32.const 2)))
                    (i32.store offset=12 (local.get $r) (local.get $cur))
                    (i32.store offset=32 (local.get $r) (local.get $l2)) ;; LANE_INFO: lane, EMPTY
                    ;; Stage the lane's words (table g is read-only while COPYING).
                    (local.set $c (i32.const 0))
                    (loop $stage
                      (i32.store offset=36 (i32.add (local.get $r) (i32.shl (local.get $c) (i32.const 2)))
                        (i32.atomic.load offset=8 (i32.add (i32.add (local.get $at) (i32.mul (local.get $c) (local.get $col))) (i32.shl (local.get $lane) (i32.const 2)))))
                      (local.set $c (i32.add (local.get $c) (i32.const 1)))
                      (br_if $stage (i32.lt_u (local.get $c) (global.get $cLaneInts))))
                    (i32.store offset=24 (local.get $r) (local.get $newBase))
                    (if (global.get $strict)
                      (then (i32.atomic.store offset=20 (local.get $r) (i32.const 3)))
                      (else (i32.store offset=20 (local.get $r) (i32.const 3))))
                    (if (i32.eq
                          (i32.atomic.rmw.cmpxchg (local.get $t) (local.get $cur)
                            (i32.or (i32.shl (global.get $tag) (i32.const 3)) (i32.const 1)))
                          (local.get $cur))
                      (then
                        (local.set $c (i32.const 0))
                        (loop $apply
                          (local.set $v (i32.load offset=36 (i32.add (local.get $r) (i32.shl (local.get $c) (i32.const 2)))))
                          (if (global.get $strict)
                            (then (i32.atomic.store offset=8 (i32.add (i32.add (local.get $t) (i32.mul (local.get $c) (local.get $col))) (i32.shl (local.get $l2) (i32.const 2))) (local.get $v)))
                            (else (i32.store offset=8 (i32.add (i32.add (local.get $t) (i32.mul (local.get $c) (local.get $col))) (i32.shl (local.get $l2) (i32.const 2))) (local.get $v))))
                          (local.set $c (i32.add (local.get $c) (i32.const 1)))
                          (br_if $apply (i32.lt_u (local.get $c) (global.get $cLaneInts))))
                        (drop (i32.atomic.rmw.or offset=4 (local.get $t) (i32.shl (i32.const 1) (local.get $l2))))
                        (i32.atomic.store (local.get $t) (i32.add (i32.and (local.get $cur) (i32.const -8)) (i32.const 8)))
                        (i32.store offset=20 (local.get $r) (i32.const 0))
                        (i32.store offset=8 (local.get $r) (i32.const 0))
                        (local.set $n (i32.add (local.get $n) (i32.const 1)))
                        (br $laneDone)))
                    ;; Another copier took the bucket first: clear, read it again.
                    (i32.store offset=20 (local.get $r) (i32.const 0))
                    (i32.store offset=8 (local.get $r) (i32.const 0))
                    (br $walk)))
                (if (i32.eqz (i32.and (local.get $tmeta) (i32.const 65536)))
                  (then (drop (i32.atomic.rmw.or offset=4 (local.get $t) (i32.const 65536)))))
                (local.set $bk (i32.add (local.get $bk) (i32.const 1)))
                (local.set $t (i32.add (local.get $t) (i32.const 64)))
                (if (i32.ge_u (local.get $bk) (local.get $newBuckets))
                  (then (local.set $bk (i32.const 0)) (local.set $t (i32.shl (local.get $newFirst) (i32.const 2)))))
                (local.set $steps (i32.add (local.get $steps) (i32.const 1)))
                ;; No EMPTY lane on the whole chain: a table that cannot be (the JS copy throws).
                (br_if $stop (i32.gt_u (local.get $steps) (local.get $newBuckets)))
                (br $walk)))
            (br $laneLoop)))
        (local.set $copied (i32.add (local.get $copied) (local.get $n)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $bucketLoop)))
    (global.set $stop (local.get $i))
    (local.get $copied))
  ;; 1 when the key block at byte `b` holds the packed key: its header is `header` and every
  ;; payload word equals w0.. (the last one masked by `tailmask`: a reused block keeps stale
  ;; padding); else 0. The caller checked that the block lies inside the memory.
  (func $blockEquals
    (param $b i32) (param $header i32) (param $nwords i32) (param $tailmask i32)
    (param $w0 i32) (param $w1 i32) (param $w2 i32) (param $w3 i32) (param $w4 i32) (param $w5 i32) (param $w6 i32) (param $w7 i32)
    (result i32)
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
      (return (i32.const 1)))
    (i32.const 0))


  ;; ---- string keys ------------------------------------------------------------
  ;; putStrI32 / putStrF64 / deleteStr: SharedFlatMap.set / delete of a string key of at most
  ;; KEY_MAX_UNITS one-byte units (built-in murmur3), packed by JS as for read-bucket.wat's
  ;; findStr (w0..w7; header = n << 2 | TAG_LATIN1). Lanes: HASH, KEY_REF, value (4 lanes;
  ;; float64 values: 3 lanes, two value columns). The walk is findStr's (the HASH column by one
  ;; v128 compare, then the key block of each matching lane); the writes are putI32's steps.
  ;; keyRef: the key block for an insert: 0 the first time, and an EMPTY lane then answers
  ;; NEED_BLOCK with nothing changed, if the insert budget has room (else SLOW); JS allocates and
  ;; writes the block and calls again. STORED_BLOCK: the new lane references keyRef; any other
  ;; answer leaves keyRef unused (JS frees it).
  (func (export "putStrI32")
    (param $hash i32) (param $header i32) (param $w0 i32) (param $w1 i32) (param $w2 i32) (param $w3 i32)
    (param $w4 i32) (param $w5 i32) (param $w6 i32) (param $w7 i32) (param $v i32)
    (param $first i32) (param $buckets i32) (param $gen i32) (param $base i32) (param $keyRef i32) (result i32)
    (call $putStr (local.get $hash) (local.get $header) (local.get $w0) (local.get $w1) (local.get $w2) (local.get $w3)
      (local.get $w4) (local.get $w5) (local.get $w6) (local.get $w7) (i64.extend_i32_u (local.get $v)) (i32.const 4)
      (local.get $first) (local.get $buckets) (local.get $gen) (local.get $base) (local.get $keyRef)))

  (func (export "putStrF64")
    (param $hash i32) (param $header i32) (param $w0 i32) (param $w1 i32) (param $w2 i32) (param $w3 i32)
    (param $w4 i32) (param $w5 i32) (param $w6 i32) (param $w7 i32) (param $v f64)
    (param $first i32) (param $buckets i32) (param $gen i32) (param $base i32) (param $keyRef i32) (result i32)
    (call $putStr (local.get $hash) (local.get $header) (local.get $w0) (local.get $w1) (local.get $w2) (local.get $w3)
      (local.get $w4) (local.get $w5) (local.get $w6) (local.get $w7) (i64.reinterpret_f64 (local.get $v)) (i32.const 3)
      (local.get $first) (local.get $buckets) (local.get $gen) (local.get $base) (local.get $keyRef)))

  ;; The lane of the packed key among the OCCUPIED lanes of the bucket at byte `at` (META `meta`,
  ;; `lanes` lanes): 0..lanes-1, NO_LANE (-1), or BAD_LANE (-2: a FULL lane with NULL_BLOCK, or a
  ;; key block not wholly inside the memory: a stale table, the caller answers SLOW).
  (func $strLane
    (param $at i32) (param $meta i32) (param $lanes i32) (param $hash i32) (param $header i32)
    (param $w0 i32) (param $w1 i32) (param $w2 i32) (param $w3 i32) (param $w4 i32) (param $w5 i32) (param $w6 i32) (param $w7 i32)
    (result i32)
    (local $m i32) (local $lane i32) (local $block i32) (local $units i32) (local $nwords i32) (local $tailmask i32) (local $memWords i32)
    (local.set $units (i32.shr_u (local.get $header) (i32.const 2)))
    (local.set $nwords (i32.shr_u (i32.add (local.get $units) (i32.const 3)) (i32.const 2)))
    (local.set $tailmask
      (select
        (i32.sub (i32.shl (i32.const 1) (i32.shl (i32.and (local.get $units) (i32.const 3)) (i32.const 3))) (i32.const 1))
        (i32.const -1)
        (i32.and (local.get $units) (i32.const 3))))
    (local.set $memWords (i32.shl (memory.size) (i32.const 14)))
    (local.set $m (i32.and
      (i32x4.bitmask (i32x4.eq (v128.load offset=8 (local.get $at)) (i32x4.splat (local.get $hash))))
      (i32.and (local.get $meta) (i32.sub (i32.shl (i32.const 1) (local.get $lanes)) (i32.const 1)))))
    (block $none
      (loop $lanesLoop
        (br_if $none (i32.eqz (local.get $m)))
        (local.set $lane (i32.ctz (local.get $m)))
        (local.set $m (i32.and (local.get $m) (i32.sub (local.get $m) (i32.const 1))))
        (local.set $block (i32.atomic.load offset=8
          (i32.add (i32.add (local.get $at) (i32.shl (local.get $lanes) (i32.const 2))) (i32.shl (local.get $lane) (i32.const 2)))))
        (if (i32.eqz (local.get $block))
          (then
            (br_if $lanesLoop (i32.and (i32.shr_u (local.get $meta) (i32.add (local.get $lane) (i32.const 8))) (i32.const 1)))
            (return (i32.const -2))))
        (if (i32.or
              (i32.ge_u (local.get $block) (local.get $memWords))
              (i32.gt_u (i32.add (local.get $block) (i32.add (local.get $nwords) (i32.const 1))) (local.get $memWords)))
          (then (return (i32.const -2))))
        (br_if $lanesLoop (i32.eqz (call $blockEquals
          (i32.shl (local.get $block) (i32.const 2)) (local.get $header) (local.get $nwords) (local.get $tailmask)
          (local.get $w0) (local.get $w1) (local.get $w2) (local.get $w3) (local.get $w4) (local.get $w5) (local.get $w6) (local.get $w7))))
        (return (local.get $lane))))
    (i32.const -1))

  (func $putStr
    (param $hash i32) (param $header i32) (param $w0 i32) (param $w1 i32) (param $w2 i32) (param $w3 i32)
    (param $w4 i32) (param $w5 i32) (param $w6 i32) (param $w7 i32) (param $val i64) (param $lanes i32)
    (param $first i32) (param $buckets i32) (param $gen i32) (param $base i32) (param $keyRef i32) (result i32)
    (local $r i32) (local $epoch i32) (local $bk i32) (local $at i32) (local $seq i32) (local $meta i32)
    (local $found i32) (local $free i32) (local $lane i32) (local $state i32) (local $steps i32) (local $b i32)
    (local $lo i32) (local $hi i32) (local $col i32) (local $mask i32) (local $v i32) (local $wide i32) (local $result i32)
    (local.set $r (global.get $rec))
    (if (i32.eqz (local.get $r)) (then (return (i32.const 0))))
    (local.set $epoch (i32.shl (local.get $gen) (i32.const 2)))
    (if (i32.ne (i32.atomic.load (i32.const 128)) (local.get $epoch)) (then (return (i32.const 0))))
    (local.set $b (i32.shl (local.get $base) (i32.const 2)))
    (local.set $lo (i32.wrap_i64 (local.get $val)))
    (local.set $hi (i32.wrap_i64 (i64.shr_u (local.get $val) (i64.const 32))))
    (local.set $wide (i32.eq (local.get $lanes) (i32.const 3)))
    (local.set $col (i32.shl (local.get $lanes) (i32.const 2)))
    (local.set $mask (i32.sub (i32.shl (i32.const 1) (local.get $lanes)) (i32.const 1)))
    (block $slow
      (i32.atomic.store offset=4 (local.get $r) (i32.add (local.get $gen) (i32.const 1)))
      (br_if $slow (i32.ne (i32.atomic.load (i32.const 128)) (local.get $epoch)))
      (local.set $bk (i32.wrap_i64 (i64.shr_u
        (i64.mul (i64.extend_i32_u (local.get $hash)) (i64.extend_i32_u (local.get $buckets)))
        (i64.const 32))))
      (local.set $at (i32.add (i32.shl (local.get $first) (i32.const 2)) (i32.shl (local.get $bk) (i32.const 6))))
      (loop $walk
        (local.set $seq (i32.atomic.load (local.get $at)))
        (local.set $meta (i32.atomic.load offset=4 (local.get $at)))
        (local.set $found (call $strLane (local.get $at) (local.get $meta) (local.get $lanes) (local.get $hash) (local.get $header)
          (local.get $w0) (local.get $w1) (local.get $w2) (local.get $w3) (local.get $w4) (local.get $w5) (local.get $w6) (local.get $w7)))
        (br_if $slow (i32.eq (local.get $found) (i32.const -2)))
        (local.set $free (i32.and (i32.xor (local.get $meta) (local.get $mask)) (local.get $mask)))
        (if (i32.and (local.get $seq) (i32.const 1))
          (then (br_if $slow (i32.or (i32.ge_s (local.get $found) (i32.const 0)) (local.get $free)))))
        (if (i32.or (i32.ge_s (local.get $found) (i32.const 0)) (local.get $free))
          (then
            ;; An insert without its key block yet: ask for one (nothing changed), if the budget has room.
            (if (i32.and (i32.lt_s (local.get $found) (i32.const 0)) (i32.eqz (local.get $keyRef)))
              (then
                (br_if $slow (i32.le_s (i32.atomic.load offset=64 (local.get $b)) (i32.const 0)))
                (local.set $result (i32.const 3))
                (br $slow)))
            (i32.store offset=8 (local.get $r) (i32.shr_u (local.get $at) (i32.const 2)))
            (i32.store offset=12 (local.get $r) (local.get $seq))
            (if (i32.ne
                  (i32.atomic.rmw.cmpxchg (local.get $at) (local.get $seq)
                    (i32.or (i32.shl (global.get $tag) (i32.const 3)) (i32.const 1)))
                  (local.get $seq))
              (then (i32.store offset=20 (local.get $r) (i32.const 0))
                    (i32.store offset=8 (local.get $r) (i32.const 0)) (br $slow)))
            (if (i32.ne (i32.atomic.load (i32.const 128)) (local.get $epoch))
              (then
                (i32.atomic.store (local.get $at) (local.get $seq))
                (i32.store offset=20 (local.get $r) (i32.const 0))
                (i32.store offset=8 (local.get $r) (i32.const 0))
                (br $slow)))
            (if (i32.ge_s (local.get $found) (i32.const 0))
              (then
                (local.set $lane (local.get $found))
                (local.set $state (select (i32.const 2) (i32.const 1)
                  (i32.and (i32.shr_u (local.get $meta) (i32.add (local.get $lane) (i32.const 8))) (i32.const 1)))))
              (else
                (if (i32.le_s (i32.atomic.rmw.sub offset=64 (local.get $b) (i32.const 1)) (i32.const 0))
                  (then
                    (drop (i32.atomic.rmw.add offset=64 (local.get $b) (i32.const 1)))
                    (i32.atomic.store (local.get $at) (local.get $seq))
                    (i32.store offset=20 (local.get $r) (i32.const 0))
                    (i32.store offset=8 (local.get $r) (i32.const 0))
                    (br $slow)))
                (local.set $lane (i32.ctz (i32.and (i32.xor (i32.atomic.load offset=4 (local.get $at)) (local.get $mask)) (local.get $mask))))
                (local.set $state (i32.const 0))))
            (local.set $v (i32.add (local.get $at) (i32.shl (local.get $lane) (i32.const 2))))
            ;; Stage LANE_INFO, HASH, KEY_REF (the lane's own unless EMPTY), the value words; commit.
            (i32.store offset=32 (local.get $r) (i32.or (local.get $lane) (i32.shl (local.get $state) (i32.const 4))))
            (i32.store offset=36 (local.get $r) (local.get $hash))
            (i32.store offset=40 (local.get $r)
              (select (local.get $keyRef) (i32.atomic.load offset=8 (i32.add (local.get $v) (local.get $col))) (i32.eqz (local.get $state))))
            (i32.store offset=44 (local.get $r) (local.get $lo))
            (if (local.get $wide) (then (i32.store offset=48 (local.get $r) (local.get $hi))))
            (i32.store offset=24 (local.get $r) (local.get $base))
            (if (global.get $strict)
              (then (i32.atomic.store offset=20 (local.get $r) (i32.const 1)))
              (else (i32.store offset=20 (local.get $r) (i32.const 1))))
            ;; Apply: HASH and KEY_REF for an EMPTY lane, then the value word(s).
            (if (i32.eqz (local.get $state))
              (then
                (if (global.get $strict)
                  (then
                    (i32.atomic.store offset=8 (local.get $v) (local.get $hash))
                    (i32.atomic.store offset=8 (i32.add (local.get $v) (local.get $col)) (local.get $keyRef)))
                  (else
                    (i32.store offset=8 (local.get $v) (local.get $hash))
                    (i32.store offset=8 (i32.add (local.get $v) (local.get $col)) (local.get $keyRef))))))
            (if (global.get $strict)
              (then
                (i32.atomic.store offset=8 (i32.add (local.get $v) (i32.shl (local.get $col) (i32.const 1))) (local.get $lo))
                (if (local.get $wide)
                  (then (i32.atomic.store offset=8 (i32.add (local.get $v) (i32.mul (local.get $col) (i32.const 3))) (local.get $hi)))))
              (else
                (i32.store offset=8 (i32.add (local.get $v) (i32.shl (local.get $col) (i32.const 1))) (local.get $lo))
                (if (local.get $wide)
                  (then (i32.store offset=8 (i32.add (local.get $v) (i32.mul (local.get $col) (i32.const 3))) (local.get $hi))))))
            (if (i32.eqz (local.get $state))
              (then (drop (i32.atomic.rmw.or offset=4 (local.get $at) (i32.shl (i32.const 1) (local.get $lane))))))
            (if (i32.eq (local.get $state) (i32.const 2))
              (then (drop (i32.atomic.rmw.and offset=4 (local.get $at)
                (i32.xor (i32.shl (i32.const 1) (i32.add (local.get $lane) (i32.const 8))) (i32.const -1))))))
            (if (i32.ne (local.get $state) (i32.const 1))
              (then
                (drop (i32.atomic.rmw.add (local.get $b) (i32.const 1)))
                (if (global.get $strict)
                  (then (i32.atomic.store offset=20 (local.get $r) (i32.const 5)))
                  (else (i32.store offset=20 (local.get $r) (i32.const 5))))))
            (i32.atomic.store (local.get $at) (i32.add (i32.and (local.get $seq) (i32.const -8)) (i32.const 8)))
            (i32.store offset=20 (local.get $r) (i32.const 0))
            (i32.store offset=8 (local.get $r) (i32.const 0))
            (if (global.get $strict)
              (then (i32.atomic.store offset=4 (local.get $r) (i32.const 0)))
              (else (i32.store offset=4 (local.get $r) (i32.const 0))))
            ;; STORED_BLOCK (4) for an EMPTY lane, INSERTED (1) for a revival, OVERWROTE (2).
            (return (select (i32.const 4) (select (i32.const 1) (i32.const 2) (i32.eq (local.get $state) (i32.const 2))) (i32.eqz (local.get $state))))))
        (if (i32.eqz (i32.and (local.get $meta) (i32.const 65536)))
          (then (drop (i32.atomic.rmw.or offset=4 (local.get $at) (i32.const 65536)))))
        (local.set $bk (i32.add (local.get $bk) (i32.const 1)))
        (local.set $at (i32.add (local.get $at) (i32.const 64)))
        (if (i32.ge_u (local.get $bk) (local.get $buckets))
          (then (local.set $bk (i32.const 0)) (local.set $at (i32.shl (local.get $first) (i32.const 2)))))
        (local.set $steps (i32.add (local.get $steps) (i32.const 1)))
        (br_if $walk (i32.le_u (local.get $steps) (local.get $buckets)))))
    ;; SLOW or NEED_BLOCK: nothing changed; idle again.
    (if (global.get $strict)
      (then (i32.atomic.store offset=4 (local.get $r) (i32.const 0)))
      (else (i32.store offset=4 (local.get $r) (i32.const 0))))
    (local.get $result))

  ;; delete of a string key (any value kind: lanes 4, or 3 for float64 values): DELETED (the
  ;; value column's first word, an arena value's block, in lastOld()), ABSENT or SLOW.
  (func (export "deleteStr")
    (param $hash i32) (param $header i32) (param $w0 i32) (param $w1 i32) (param $w2 i32) (param $w3 i32)
    (param $w4 i32) (param $w5 i32) (param $w6 i32) (param $w7 i32) (param $lanes i32)
    (param $first i32) (param $buckets i32) (param $gen i32) (param $base i32) (result i32)
    (local $r i32) (local $epoch i32) (local $bk i32) (local $at i32) (local $seq i32) (local $meta i32)
    (local $found i32) (local $free i32) (local $steps i32) (local $b i32) (local $mask i32)
    (local.set $r (global.get $rec))
    (if (i32.eqz (local.get $r)) (then (return (i32.const 0))))
    (local.set $epoch (i32.shl (local.get $gen) (i32.const 2)))
    (if (i32.ne (i32.atomic.load (i32.const 128)) (local.get $epoch)) (then (return (i32.const 0))))
    (local.set $b (i32.shl (local.get $base) (i32.const 2)))
    (local.set $mask (i32.sub (i32.shl (i32.const 1) (local.get $lanes)) (i32.const 1)))
    (block $absent
    (block $slow
      (i32.atomic.store offset=4 (local.get $r) (i32.add (local.get $gen) (i32.const 1)))
      (br_if $slow (i32.ne (i32.atomic.load (i32.const 128)) (local.get $epoch)))
      (local.set $bk (i32.wrap_i64 (i64.shr_u
        (i64.mul (i64.extend_i32_u (local.get $hash)) (i64.extend_i32_u (local.get $buckets)))
        (i64.const 32))))
      (local.set $at (i32.add (i32.shl (local.get $first) (i32.const 2)) (i32.shl (local.get $bk) (i32.const 6))))
      (loop $walk
        (local.set $seq (i32.atomic.load (local.get $at)))
        (local.set $meta (i32.atomic.load offset=4 (local.get $at)))
        (local.set $found (call $strLane (local.get $at) (local.get $meta) (local.get $lanes) (local.get $hash) (local.get $header)
          (local.get $w0) (local.get $w1) (local.get $w2) (local.get $w3) (local.get $w4) (local.get $w5) (local.get $w6) (local.get $w7)))
        (br_if $slow (i32.eq (local.get $found) (i32.const -2)))
        (local.set $free (i32.and (i32.xor (local.get $meta) (local.get $mask)) (local.get $mask)))
        (br_if $slow (i32.and (i32.and (local.get $seq) (i32.const 1))
          (i32.or (i32.ge_s (local.get $found) (i32.const 0)) (i32.ne (local.get $free) (i32.const 0)))))
        (if (i32.ge_s (local.get $found) (i32.const 0))
          (then
            (if (i32.and (i32.shr_u (local.get $meta) (i32.add (local.get $found) (i32.const 8))) (i32.const 1))
              (then
                (br_if $slow (i32.ne (i32.atomic.load (local.get $at)) (local.get $seq)))
                (br_if $slow (i32.ne (i32.atomic.load (i32.const 128)) (local.get $epoch)))
                (br $absent)))
            (i32.store offset=8 (local.get $r) (i32.shr_u (local.get $at) (i32.const 2)))
            (i32.store offset=12 (local.get $r) (local.get $seq))
            (if (i32.ne
                  (i32.atomic.rmw.cmpxchg (local.get $at) (local.get $seq)
                    (i32.or (i32.shl (global.get $tag) (i32.const 3)) (i32.const 1)))
                  (local.get $seq))
              (then (i32.store offset=20 (local.get $r) (i32.const 0))
                    (i32.store offset=8 (local.get $r) (i32.const 0)) (br $slow)))
            (if (i32.ne (i32.atomic.load (i32.const 128)) (local.get $epoch))
              (then
                (i32.atomic.store (local.get $at) (local.get $seq))
                (i32.store offset=20 (local.get $r) (i32.const 0))
                (i32.store offset=8 (local.get $r) (i32.const 0))
                (br $slow)))
            ;; The value column's first word: an arena value's block, freed by JS after the release.
            (global.set $old (i32.atomic.load offset=8
              (i32.add (i32.add (local.get $at) (i32.shl (local.get $lanes) (i32.const 3))) (i32.shl (local.get $found) (i32.const 2)))))
            (i32.store offset=32 (local.get $r) (i32.or (local.get $found) (i32.const 16))) ;; LANE_INFO: lane, FULL
            (i32.store offset=24 (local.get $r) (local.get $base))
            (if (global.get $strict)
              (then (i32.atomic.store offset=20 (local.get $r) (i32.const 2)))
              (else (i32.store offset=20 (local.get $r) (i32.const 2))))
            (drop (i32.atomic.rmw.or offset=4 (local.get $at) (i32.shl (i32.const 1) (i32.add (local.get $found) (i32.const 8)))))
            (drop (i32.atomic.rmw.sub (local.get $b) (i32.const 1)))
            (if (global.get $strict)
              (then (i32.atomic.store offset=20 (local.get $r) (i32.const 6)))
              (else (i32.store offset=20 (local.get $r) (i32.const 6))))
            (i32.atomic.store (local.get $at) (i32.add (i32.and (local.get $seq) (i32.const -8)) (i32.const 8)))
            (i32.store offset=20 (local.get $r) (i32.const 0))
            (i32.store offset=8 (local.get $r) (i32.const 0))
            (if (global.get $strict)
              (then (i32.atomic.store offset=4 (local.get $r) (i32.const 0)))
              (else (i32.store offset=4 (local.get $r) (i32.const 0))))
            (return (i32.const 1))))
        (if (i32.or (local.get $free) (i32.eqz (i32.and (local.get $meta) (i32.const 65536))))
          (then
            (br_if $slow (i32.ne (i32.atomic.load (local.get $at)) (local.get $seq)))
            (br_if $slow (i32.ne (i32.atomic.load (i32.const 128)) (local.get $epoch)))
            (br $absent)))
        (local.set $bk (i32.add (local.get $bk) (i32.const 1)))
        (local.set $at (i32.add (local.get $at) (i32.const 64)))
        (if (i32.ge_u (local.get $bk) (local.get $buckets))
          (then (local.set $bk (i32.const 0)) (local.set $at (i32.shl (local.get $first) (i32.const 2)))))
        (local.set $steps (i32.add (local.get $steps) (i32.const 1)))
        (br_if $walk (i32.le_u (local.get $steps) (local.get $buckets)))))
    (if (global.get $strict)
      (then (i32.atomic.store offset=4 (local.get $r) (i32.const 0)))
      (else (i32.store offset=4 (local.get $r) (i32.const 0))))
    (return (i32.const 0)))
    (if (global.get $strict)
      (then (i32.atomic.store offset=4 (local.get $r) (i32.const 0)))
      (else (i32.store offset=4 (local.get $r) (i32.const 0))))
    (i32.const 2))

  (func (export "lastOld") (result i32) (global.get $old))
)
