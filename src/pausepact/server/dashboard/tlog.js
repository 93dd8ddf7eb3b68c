// Transparency-log checks in the browser, spec-exact and without policy:
// C2SP signed-note, tlog-checkpoint, tlog-cosignature/v1 and tlog-tiles, and the
// RFC 9162 Merkle proofs (built here from the log's tiles, then verified against the
// checkpoint's root). Signatures use the browser's own Ed25519 (WebCrypto); nothing in
// this file trusts what it fetched before checking it.

const enc = new TextEncoder();
export const TILE_HEIGHT = 8;
export const TILE_WIDTH = 256;
const MAX_NOTE_BYTES = 1 << 20;
const MAX_SIGNATURES = 100;
const ALG_ED25519 = 0x01;
const ALG_COSIGNATURE_V1 = 0x04;

/** A check that failed: `what` names the check, `message` says what was found. */
export class VerifyError extends Error {
  constructor(what, message) {
    super(message);
    this.what = what;
  }
}

export function b64decode(text, what = "base64") {
  if (typeof text !== "string" || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) {
    throw new VerifyError(what, `${what} is not valid base64`);
  }
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function b64encode(bytes) {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

export function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function equal(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

export async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

export function leafHash(entry) {
  return sha256(concat(Uint8Array.of(0), entry));
}

export function nodeHash(left, right) {
  return sha256(concat(Uint8Array.of(1), left, right));
}

// --- keys (c2sp.org/signed-note verifier keys: name+hash+base64(alg || key)) -------------
export async function parseVerifierKey(vkey) {
  const m = /^([^+\s]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/=]+)$/.exec(String(vkey));
  if (!m) throw new VerifyError("key", `malformed verifier key ${JSON.stringify(vkey)}`);
  const [, name, hash, body] = m;
  const raw = b64decode(body, "verifier key");
  if (raw.length !== 33 || (raw[0] !== ALG_ED25519 && raw[0] !== ALG_COSIGNATURE_V1)) {
    throw new VerifyError("key", `key ${name}: not an Ed25519 note or cosignature key`);
  }
  const id = await sha256(concat(enc.encode(name + "\n"), raw));
  const keyId = hex(id.subarray(0, 4));
  if (keyId !== hash) throw new VerifyError("key", `key ${name}: its hash ${hash} is not ${keyId}`);
  const key = await crypto.subtle.importKey("raw", raw.subarray(1), { name: "Ed25519" }, false, [
    "verify",
  ]);
  return { name, keyId, alg: raw[0], key, vkey };
}

export function ed25519Verify(key, signature, message) {
  return crypto.subtle.verify({ name: "Ed25519" }, key, signature, message);
}

// --- signed notes and checkpoints -----------------------------------------------------------
export function parseNote(text) {
  if (text.length > MAX_NOTE_BYTES) throw new VerifyError("note", "the note is too large");
  if (!text.endsWith("\n")) throw new VerifyError("note", "the note does not end in a newline");
  const split = text.lastIndexOf("\n\n");
  if (split < 0) throw new VerifyError("note", "the note has no signature block");
  const body = text.slice(0, split + 1);
  const lines = text.slice(split + 2, -1).split("\n");
  if (lines.length > MAX_SIGNATURES) throw new VerifyError("note", "the note has too many signatures");
  const signatures = lines.map((line) => {
    const m = /^\u2014 (\S+) (\S+)$/.exec(line);
    if (!m) throw new VerifyError("note", `malformed signature line ${JSON.stringify(line)}`);
    const raw = b64decode(m[2], "signature");
    if (raw.length < 5) throw new VerifyError("note", "a signature is too short");
    return { name: m[1], keyId: hex(raw.subarray(0, 4)), sig: raw.subarray(4) };
  });
  return { body, signatures };
}

export function parseCheckpoint(body) {
  const lines = body.split("\n");
  lines.pop(); // the body ends in a newline
  if (lines.length < 3) throw new VerifyError("checkpoint", "a checkpoint needs origin, size and root");
  const [origin, sizeText, rootText] = lines;
  if (!origin) throw new VerifyError("checkpoint", "the checkpoint has an empty origin");
  if (!/^(0|[1-9][0-9]{0,15})$/.test(sizeText) || !Number.isSafeInteger(Number(sizeText))) {
    throw new VerifyError("checkpoint", `malformed tree size ${JSON.stringify(sizeText)}`);
  }
  const root = b64decode(rootText, "root hash");
  if (root.length !== 32) throw new VerifyError("checkpoint", "the root hash is not 32 bytes");
  return { origin, size: Number(sizeText), root, extensions: lines.slice(3) };
}

function cosignatureMessage(body, timestamp) {
  return enc.encode(`cosignature/v1\ntime ${timestamp}\n${body}`);
}

/**
 * Open a checkpoint note: the log's Ed25519 signature by `trust.logKey`, the origin, and
 * at least `trust.quorum` valid cosignatures by distinct `trust.witnesses`.
 * Returns the checkpoint and each witness's result; throws VerifyError otherwise.
 */
export async function openCheckpoint(text, trust) {
  const note = parseNote(text);
  const body = enc.encode(note.body);
  const logSig = note.signatures.find(
    (s) => s.name === trust.logKey.name && s.keyId === trust.logKey.keyId,
  );
  if (!logSig) {
    throw new VerifyError("log signature", `no signature by the pact's log key ${trust.logKey.name}`);
  }
  if (logSig.sig.length !== 64 || !(await ed25519Verify(trust.logKey.key, logSig.sig, body))) {
    throw new VerifyError("log signature", `the signature by ${trust.logKey.name} does not verify`);
  }
  const checkpoint = parseCheckpoint(note.body);
  if (checkpoint.origin !== trust.origin) {
    throw new VerifyError("origin", `the checkpoint's origin ${checkpoint.origin} is not ${trust.origin}`);
  }
  const witnesses = [];
  for (const w of trust.witnesses) {
    const sig = note.signatures.find((s) => s.name === w.name && s.keyId === w.keyId);
    const result = { name: w.name, signed: Boolean(sig), valid: false, time: null };
    if (sig && sig.sig.length === 72 && w.alg === ALG_COSIGNATURE_V1) {
      const ts = new DataView(sig.sig.buffer, sig.sig.byteOffset, 8).getBigUint64(0);
      if (ts < 2n ** 63n) {
        result.valid = await ed25519Verify(w.key, sig.sig.subarray(8), cosignatureMessage(note.body, ts));
        result.time = Number(ts);
      }
    }
    witnesses.push(result);
  }
  const valid = witnesses.filter((w) => w.valid).length;
  if (valid < trust.quorum) {
    throw new VerifyError(
      "witness quorum",
      `${valid} valid witness cosignature${valid === 1 ? "" : "s"}; the pact needs ${trust.quorum}`,
    );
  }
  return { checkpoint, witnesses, text };
}

// --- tiles (c2sp.org/tlog-tiles) ------------------------------------------------------------
export function encodeIndex(n) {
  let s = String(n % 1000).padStart(3, "0");
  n = Math.floor(n / 1000);
  while (n > 0) {
    s = `x${String(n % 1000).padStart(3, "0")}/${s}`;
    n = Math.floor(n / 1000);
  }
  return s;
}

function tileSuffix(width) {
  return width === TILE_WIDTH ? "" : `.p/${width}`;
}

export function tilePath(level, index, width) {
  return `tile/${level}/${encodeIndex(index)}${tileSuffix(width)}`;
}

export function entriesPath(index, width) {
  return `tile/entries/${encodeIndex(index)}${tileSuffix(width)}`;
}

export function parseBundle(data, count) {
  const out = [];
  let at = 0;
  while (at < data.length) {
    if (at + 2 > data.length) throw new VerifyError("entry bundle", "truncated length prefix");
    const n = (data[at] << 8) | data[at + 1];
    if (at + 2 + n > data.length) throw new VerifyError("entry bundle", "truncated entry");
    out.push(data.subarray(at + 2, at + 2 + n));
    at += 2 + n;
  }
  if (out.length < count) {
    throw new VerifyError("entry bundle", `${out.length} entries where ${count} were expected`);
  }
  return out.slice(0, count);
}

const isPowerOfTwo = (n) => n >= 1 && 2 ** Math.round(Math.log2(n)) === n;

function largestPowerOfTwoBelow(n) {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * The hashes of one tree size, read from tiles and computed upwards as needed. Every
 * hash it returns is untrusted until a proof built from it verifies against a root.
 */
export class TileTree {
  constructor(size, fetchBytes) {
    this.size = size;
    this.fetchBytes = fetchBytes;
    this.tiles = new Map();
    this.nodes = new Map();
  }

  tileWidth(level, index) {
    const count = Math.floor(this.size / 2 ** (TILE_HEIGHT * level));
    return Math.min(TILE_WIDTH, count - index * TILE_WIDTH);
  }

  tile(level, index) {
    const width = this.tileWidth(level, index);
    const path = tilePath(level, index, width);
    if (!this.tiles.has(path)) {
      this.tiles.set(
        path,
        this.fetchBytes(path).then((data) => {
          if (data.length !== width * 32) {
            throw new VerifyError("tile", `${path} is ${data.length} bytes, want ${width * 32}`);
          }
          return data;
        }),
      );
    }
    return this.tiles.get(path);
  }

  async bundle(index) {
    const width = Math.min(TILE_WIDTH, this.size - index * TILE_WIDTH);
    const path = entriesPath(index, width);
    if (!this.tiles.has(path)) {
      this.tiles.set(path, this.fetchBytes(path).then((data) => parseBundle(data, width)));
    }
    return this.tiles.get(path);
  }

  async entry(index) {
    const entries = await this.bundle(Math.floor(index / TILE_WIDTH));
    return entries[index % TILE_WIDTH];
  }

  /** The hash of the complete subtree of height `height` holding leaves from index * 2^height. */
  node(height, index) {
    const key = `${height}/${index}`;
    if (!this.nodes.has(key)) {
      let value;
      if (height % TILE_HEIGHT === 0) {
        const level = height / TILE_HEIGHT;
        value = this.tile(level, Math.floor(index / TILE_WIDTH)).then((t) => {
          const at = (index % TILE_WIDTH) * 32;
          return t.subarray(at, at + 32);
        });
      } else {
        value = Promise.all([this.node(height - 1, 2 * index), this.node(height - 1, 2 * index + 1)]).then(
          ([l, r]) => nodeHash(l, r),
        );
      }
      this.nodes.set(key, value);
    }
    return this.nodes.get(key);
  }

  /** MTH(D[lo:hi]) for the ranges RFC 9162's proofs use (lo aligned to the split). */
  async range(lo, hi) {
    const n = hi - lo;
    if (isPowerOfTwo(n) && lo % n === 0) {
      return this.node(Math.log2(n), lo / n);
    }
    const k = largestPowerOfTwoBelow(n);
    const [l, r] = await Promise.all([this.range(lo, lo + k), this.range(lo + k, hi)]);
    return nodeHash(l, r);
  }

  /** RFC 9162 2.1.3.1 PATH(m, D[0:size]). */
  inclusionProof(index) {
    const ranges = [];
    const path = (m, lo, hi) => {
      if (hi - lo <= 1) return;
      const k = largestPowerOfTwoBelow(hi - lo);
      if (m < k) {
        path(m, lo, lo + k);
        ranges.push([lo + k, hi]);
      } else {
        path(m - k, lo + k, hi);
        ranges.push([lo, lo + k]);
      }
    };
    path(index, 0, this.size);
    return Promise.all(ranges.map(([lo, hi]) => this.range(lo, hi)));
  }

  /** RFC 9162 2.1.4.1 PROOF(old, D[0:size]). */
  consistencyProof(old) {
    const ranges = [];
    const sub = (m, lo, hi, b) => {
      const n = hi - lo;
      if (m === n) {
        if (!b) ranges.push([lo, hi]);
        return;
      }
      const k = largestPowerOfTwoBelow(n);
      if (m <= k) {
        sub(m, lo, lo + k, b);
        ranges.push([lo + k, hi]);
      } else {
        sub(m - k, lo + k, hi, false);
        ranges.push([lo, lo + k]);
      }
    };
    if (old > 0 && old < this.size) sub(old, 0, this.size, true);
    return Promise.all(ranges.map(([lo, hi]) => this.range(lo, hi)));
  }
}

// --- RFC 9162 proof verification --------------------------------------------------------
const odd = (n) => n % 2 === 1;
const half = (n) => Math.floor(n / 2);

/** RFC 9162 2.1.3.2: does `proof` show `leaf` at `index` in the tree of `size` with `root`? */
export async function verifyInclusion(leaf, index, size, proof, root) {
  if (index >= size) throw new VerifyError("inclusion proof", `entry ${index} is beyond size ${size}`);
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) throw new VerifyError("inclusion proof", "the proof is too long");
    if (odd(fn) || fn === sn) {
      r = await nodeHash(p, r);
      while (!odd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) throw new VerifyError("inclusion proof", "the proof is too short");
  if (!equal(r, root)) {
    throw new VerifyError("inclusion proof", `entry ${index} is not in the tree the checkpoint signs`);
  }
}

/** RFC 9162 2.1.4.2: is the tree (size2, root2) an extension of (size1, root1)? */
export async function verifyConsistency(size1, size2, root1, root2, proof) {
  const fail = (why) => {
    throw new VerifyError("consistency proof", why);
  };
  if (size1 > size2) fail(`size ${size2} is smaller than ${size1}: the log was rolled back`);
  if (size1 === size2) {
    if (proof.length !== 0 || !equal(root1, root2)) fail(`two different roots for size ${size1}: a fork`);
    return;
  }
  if (size1 === 0) return;
  let path = proof;
  if (isPowerOfTwo(size1)) path = [root1, ...proof];
  if (path.length === 0) fail("the proof is empty");
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (odd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr = path[0];
  let sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0) fail("the proof is too long");
    if (odd(fn) || fn === sn) {
      fr = await nodeHash(c, fr);
      sr = await nodeHash(c, sr);
      while (!odd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      sr = await nodeHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) fail("the proof is too short");
  if (!equal(fr, root1) || !equal(sr, root2)) {
    fail(`the tree of size ${size2} does not extend the one of size ${size1} this browser verified: a fork`);
  }
}
