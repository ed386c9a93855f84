;; flatshare layout 6: the read paths over cache-line buckets in WebAssembly
;; (SharedFlatMap.get / has for int32 keys with int32 or float64 values, and
;; for short one-byte string keys; see "String keys" below). Bucket layout and protocol: lib/bucket.ts, docs/layout6.md.
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
;; String keys (findStr, getStrI32, getStrF64), for keys of at most
;; KEY_MAX_UNITS one-byte units hashed by the built-in murmur3, packed by JS
;; four units per word (w0..w7; header = the key block's header, n << 2 |
;; TAG_LATIN1), as read-string.wat takes them. A lane holds HASH, KEY_REF and
;; the value (4 lanes; string -> float64: 3). Per bucket: the HASH column
;; against the hash (one v128 compare), kept for OCCUPIED lanes; for each
;; matching lane (hashes collide) its KEY_REF: NULL_BLOCK in a TOMBSTONE (a
;; reclaimed key) -> the next lane, in a FULL lane -> RETRY (a stale table);
;; a block not wholly inside the memory (memory.size, counted in words) ->
;; RETRY; the block's header and payload words against the packed key. The
;; key's lane: TOMBSTONE -> validate, MISS; FULL -> getStrI32 / getStrF64 read
;; the value, validate and answer; findStr (arena values) answers the bucket
;; (lastSeq(), lastLane()) and JS reads the value block and validates. No
;; lane of the key: OVERFLOW -> the next bucket, else validate, MISS.
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
;; const PAGE_WORDS_SHIFT = 14     ;; log2(WASM_PAGE_BYTES / 4)
;; const BLOCK_TAG_BITS = 2
;; const STR_LANES = 4             ;; lanesFor(3): HASH, KEY_REF, value
;; const STR_VALUES_BYTES = 40     ;; (B_LANES + 2 * STR_LANES) * 4
;; const STR_F64_LANES = 3         ;; lanesFor(4)
;; const STR_F64_LOW_BYTES = 32    ;; (B_LANES + 2 * STR_F64_LANES) * 4
;; const STR_F64_HIGH_BYTES = 44   ;; (B_LANES + 3 * STR_F64_LANES) * 4
;; const FIND_MISS = 0
;; const FIND_RETRY = -1
(module
  (import "env" "memory" (memory 1 65536 shared))

  (global $f64 (mut f64) (f64.const 0))
  ;; findStr's last hit: the bucket's s1 and the lane.
  (global $seq (mut i32) (i32.const 0))
  (global $lane (mut i32) (i32.const 0))

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

  ;; String keys (4 lanes: HASH, KEY_REF, value; string -> float64: 3 lanes, the value in two
  ;; columns): the bucket of the key's FULL lane (its SEQ word index > 0; s1 in lastSeq(), the
  ;; lane in lastLane()), unvalidated: the caller reads the value, then validates. FIND_MISS (0,
  ;; validated: no lane of the key, or its TOMBSTONE) or FIND_RETRY (-1). header: n << 2 | TAG_LATIN1.
  (func $findStr
    (param $hash i32) (param $header i32) (param $w0 i32) (param $w1 i32) (param $w2 i32) (param $w3 i32) (param $w4 i32) (param $w5 i32) (param $w6 i32) (param $w7 i32)
    (param $first i32) (param $buckets i32) (param $lanes i32) (param $gen i32) (result i32)
    (local $bk i32) (local $base i32) (local $at i32) (local $wrapped i32) (local $s1 i32) (local $meta i32)
    (local $m i32) (local $lane i32) (local $block i32) (local $units i32) (local $nwords i32) (local $tailmask i32)
    (local $memWords i32) (local $col i32) (local $mask i32) (local $tomb i32) (local $hv v128)
    (local.set $units (i32.shr_u (local.get $header) (i32.const 2)))
    (local.set $nwords (i32.shr_u (i32.add (local.get $units) (i32.const 3)) (i32.const 2)))
    (local.set $tailmask
      (select
        (i32.sub (i32.shl (i32.const 1) (i32.shl (i32.and (local.get $units) (i32.const 3)) (i32.const 3))) (i32.const 1))
        (i32.const -1)
        (i32.and (local.get $units) (i32.const 3))))
    ;; Words, not bytes: a memory of the full 4 GiB would wrap to 0 in bytes.
    (local.set $memWords (i32.shl (memory.size) (i32.const 14)))
    (local.set $col (i32.shl (local.get $lanes) (i32.const 2)))
    (local.set $mask (i32.sub (i32.shl (i32.const 1) (local.get $lanes)) (i32.const 1)))
    (local.set $hv (i32x4.splat (local.get $hash)))
    (local.set $bk (i32.wrap_i64 (i64.shr_u
      (i64.mul (i64.extend_i32_u (local.get $hash)) (i64.extend_i32_u (local.get $buckets)))
      (i64.const 32))))
    (local.set $base (i32.shl (local.get $first) (i32.const 2)))
    (local.set $at (i32.add (local.get $base) (i32.shl (local.get $bk) (i32.const 6))))
    (block $retry
      (loop $probe
        (local.set $s1 (i32.atomic.load (local.get $at)))
        (br_if $retry (i32.and (local.get $s1) (i32.const 1)))
        (local.set $meta (i32.atomic.load offset=4 (local.get $at)))
        (local.set $m (i32.and
          (i32x4.bitmask (i32x4.eq (v128.load offset=8 (local.get $at)) (local.get $hv)))
          (i32.and (local.get $meta) (local.get $mask))))
        (block $noKey
          (loop $lanesLoop
            (br_if $noKey (i32.eqz (local.get $m)))
            (local.set $lane (i32.ctz (local.get $m)))
            (local.set $m (i32.and (local.get $m) (i32.sub (local.get $m) (i32.const 1))))
            (local.set $block (i32.atomic.load offset=8 (i32.add (i32.add (local.get $at) (local.get $col)) (i32.shl (local.get $lane) (i32.const 2)))))
            (local.set $tomb (i32.and (i32.shr_u (local.get $meta) (i32.add (local.get $lane) (i32.const 8))) (i32.const 1)))
            ;; NULL_BLOCK: a TOMBSTONE whose key block was reclaimed holds no key; in a FULL
            ;; lane it is a stale table's garbage.
            (if (i32.eqz (local.get $block))
              (then
                (br_if $lanesLoop (local.get $tomb))
                (br $retry)))
            ;; The block and its payload must lie inside the memory (else: a stale table).
            (br_if $retry (i32.ge_u (local.get $block) (local.get $memWords)))
            (br_if $retry (i32.gt_u
              (i32.add (local.get $block) (i32.add (local.get $nwords) (i32.const 1)))
              (local.get $memWords)))
            (br_if $lanesLoop (i32.eqz (call $blockEquals
              (i32.shl (local.get $block) (i32.const 2)) (local.get $header) (local.get $nwords) (local.get $tailmask)
              (local.get $w0) (local.get $w1) (local.get $w2) (local.get $w3) (local.get $w4) (local.get $w5) (local.get $w6) (local.get $w7))))
            (if (local.get $tomb)
              (then
                (atomic.fence)
                (br_if $retry (i32.ne (i32.shr_u (i32.atomic.load (i32.const 128)) (i32.const 2)) (local.get $gen)))
                (br_if $retry (i32.ne (i32.atomic.load (local.get $at)) (local.get $s1)))
                (return (i32.const 0))))
            (global.set $seq (local.get $s1))
            (global.set $lane (local.get $lane))
            (return (i32.shr_u (local.get $at) (i32.const 2)))))
        (if (i32.eqz (i32.and (local.get $meta) (i32.const 65536)))
          (then
            (atomic.fence)
            (br_if $retry (i32.ne (i32.shr_u (i32.atomic.load (i32.const 128)) (i32.const 2)) (local.get $gen)))
            (br_if $retry (i32.ne (i32.atomic.load (local.get $at)) (local.get $s1)))
            (return (i32.const 0))))
        (local.set $bk (i32.add (local.get $bk) (i32.const 1)))
        (local.set $at (i32.add (local.get $at) (i32.const 64)))
        (if (i32.ge_u (local.get $bk) (local.get $buckets))
          (then
            (br_if $retry (local.get $wrapped))
            (local.set $wrapped (i32.const 1))
            (local.set $bk (i32.const 0))
            (local.set $at (local.get $base))))
        (br $probe)))
    (i32.const -1))

  (func (export "findStr")
    (param $hash i32) (param $header i32) (param $w0 i32) (param $w1 i32) (param $w2 i32) (param $w3 i32) (param $w4 i32) (param $w5 i32) (param $w6 i32) (param $w7 i32)
    (param $first i32) (param $buckets i32) (param $lanes i32) (param $gen i32) (result i32)
    (call $findStr (local.get $hash) (local.get $header) (local.get $w0) (local.get $w1) (local.get $w2) (local.get $w3) (local.get $w4) (local.get $w5) (local.get $w6) (local.get $w7)
      (local.get $first) (local.get $buckets) (local.get $lanes) (local.get $gen)))

  (func (export "lastSeq") (result i32) (global.get $seq))
  (func (export "lastLane") (result i32) (global.get $lane))

  ;; string -> int32 (4 lanes): the value as f64, READ_MISS or READ_RETRY.
  (func (export "getStrI32")
    (param $hash i32) (param $header i32) (param $w0 i32) (param $w1 i32) (param $w2 i32) (param $w3 i32) (param $w4 i32) (param $w5 i32) (param $w6 i32) (param $w7 i32)
    (param $first i32) (param $buckets i32) (param $gen i32) (result f64)
    (local $w i32) (local $at i32) (local $v i32)
    (local.set $w (call $findStr (local.get $hash) (local.get $header) (local.get $w0) (local.get $w1) (local.get $w2) (local.get $w3) (local.get $w4) (local.get $w5) (local.get $w6) (local.get $w7)
      (local.get $first) (local.get $buckets) (i32.const 4) (local.get $gen)))
    (if (i32.eqz (local.get $w)) (then (return (f64.const 4294967296))))
    (if (i32.lt_s (local.get $w) (i32.const 0)) (then (return (f64.const 8589934592))))
    (local.set $at (i32.shl (local.get $w) (i32.const 2)))
    ;; The value column: bytes 8 + 2 * 16 = 40 onwards.
    (local.set $v (i32.atomic.load offset=40 (i32.add (local.get $at) (i32.shl (global.get $lane) (i32.const 2)))))
    (atomic.fence)
    (if (i32.ne (i32.shr_u (i32.atomic.load (i32.const 128)) (i32.const 2)) (local.get $gen))
      (then (return (f64.const 8589934592))))
    (if (i32.ne (i32.atomic.load (local.get $at)) (global.get $seq))
      (then (return (f64.const 8589934592))))
    (f64.convert_i32_s (local.get $v)))

  ;; string -> float64 (3 lanes, low words at bytes 8 + 2 * 12 = 32, high at 44): STATUS_*.
  (func (export "getStrF64")
    (param $hash i32) (param $header i32) (param $w0 i32) (param $w1 i32) (param $w2 i32) (param $w3 i32) (param $w4 i32) (param $w5 i32) (param $w6 i32) (param $w7 i32)
    (param $first i32) (param $buckets i32) (param $gen i32) (result i32)
    (local $w i32) (local $at i32) (local $lo i32) (local $hi i32)
    (local.set $w (call $findStr (local.get $hash) (local.get $header) (local.get $w0) (local.get $w1) (local.get $w2) (local.get $w3) (local.get $w4) (local.get $w5) (local.get $w6) (local.get $w7)
      (local.get $first) (local.get $buckets) (i32.const 3) (local.get $gen)))
    (if (i32.eqz (local.get $w)) (then (return (i32.const 0))))
    (if (i32.lt_s (local.get $w) (i32.const 0)) (then (return (i32.const 2))))
    (local.set $at (i32.add (i32.shl (local.get $w) (i32.const 2)) (i32.shl (global.get $lane) (i32.const 2))))
    (local.set $lo (i32.atomic.load offset=32 (local.get $at)))
    (local.set $hi (i32.atomic.load offset=44 (local.get $at)))
    (atomic.fence)
    (if (i32.ne (i32.shr_u (i32.atomic.load (i32.const 128)) (i32.const 2)) (local.get $gen))
      (then (return (i32.const 2))))
    (if (i32.ne (i32.atomic.load (i32.shl (local.get $w) (i32.const 2))) (global.get $seq))
      (then (return (i32.const 2))))
    (global.set $f64 (f64.reinterpret_i64 (i64.or
      (i64.extend_i32_u (local.get $lo))
      (i64.shl (i64.extend_i32_u (local.get $hi)) (i64.const 32)))))
    (i32.const 1))

  (func (export "lastF64") (result f64) (global.get $f64))
)
