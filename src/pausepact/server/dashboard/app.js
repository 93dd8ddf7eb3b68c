// The dashboard's loop: read the pact, verify each new checkpoint (log key, witness
// quorum, consistency with the last one this browser verified), read the server's
// replayed state, and verify every entry the page shows with an inclusion proof.
import * as tlog from "./tlog.js";
import * as view from "./view.js";

const POLL_MS = 2000;
const VERIFY_CONCURRENCY = 8;
const dec = new TextDecoder();

const model = {
  pact: null, // { id, doc, trust }
  verified: null, // the last verified { checkpoint, witnesses, text }
  tree: null, // tiles of the verified size
  failure: null, // a failed check: { what, message }; stays until the page reloads
  consistency: "first checkpoint this browser verified",
  seenAt: null,
  dash: null,
  entries: new Map(), // index -> { status, promise, view }
  selected: null,
};

async function fetchBytes(path) {
  const resp = await fetch(path, { cache: "no-cache" });
  if (!resp.ok) throw new Error(`${path}: HTTP ${resp.status}`);
  return new Uint8Array(await resp.arrayBuffer());
}

async function fetchFresh(path) {
  const resp = await fetch(path, { cache: "no-store" });
  if (!resp.ok) throw new Error(`${path}: HTTP ${resp.status}`);
  return new Uint8Array(await resp.arrayBuffer());
}

// --- the pact --------------------------------------------------------------------------------
async function loadPact() {
  const bytes = await fetchBytes("pact.json");
  const id = tlog.hex(await tlog.sha256(bytes));
  const doc = JSON.parse(dec.decode(bytes));
  const pinned = new URLSearchParams(location.hash.slice(1)).get("pact");
  if (pinned && pinned !== id) {
    throw new tlog.VerifyError("pact", `this site serves pact ${id}, not the pact ${pinned} in the page's address`);
  }
  const witnesses = await Promise.all(doc.members.filter((m) => m.role === "witness").map((m) => tlog.parseVerifierKey(m.key)));
  const members = new Map();
  for (const m of doc.members) members.set(m.name, await tlog.parseVerifierKey(m.key));
  const trust = {
    origin: doc.pact.log,
    logKey: await tlog.parseVerifierKey(doc.pact.log_key),
    witnesses,
    quorum: doc.pact.witness_quorum,
  };
  document.title = `${doc.pact.name} — pausepact`;
  view.fill("pact-name", `${doc.pact.name} (version ${doc.pact.version})`);
  view.fill("pact-id", id);
  return { id, doc, trust, members, storeKey: `pausepact:${id}:verified` };
}

// --- checkpoints -----------------------------------------------------------------------
function remembered() {
  try {
    const saved = JSON.parse(localStorage.getItem(model.pact.storeKey) || "null");
    if (saved && Number.isSafeInteger(saved.size) && typeof saved.root === "string") return saved;
  } catch (_) {
    /* a damaged record is treated as none */
  }
  return null;
}

async function checkCheckpoint(text) {
  const opened = await tlog.openCheckpoint(text, model.pact.trust);
  const cp = opened.checkpoint;
  const tree = new tlog.TileTree(cp.size, fetchBytes);
  const saved = remembered();
  if (saved) {
    const oldRoot = tlog.b64decode(saved.root);
    if (cp.size < saved.size) {
      throw new tlog.VerifyError("rollback", `the server now serves size ${cp.size}; this browser verified size ${saved.size} before`);
    }
    const proof = await tree.consistencyProof(saved.size);
    await tlog.verifyConsistency(saved.size, cp.size, oldRoot, cp.root, proof);
    model.consistency = cp.size === saved.size ? `same tree as last verified` : `consistent with size ${saved.size} verified before`;
  }
  localStorage.setItem(model.pact.storeKey, JSON.stringify({ size: cp.size, root: tlog.b64encode(cp.root) }));
  return { opened, tree };
}

// --- entries -------------------------------------------------------------------------------
function decodeEntry(bytes) {
  const env = JSON.parse(dec.decode(bytes));
  const statement = JSON.parse(dec.decode(tlog.b64decode(env.payload, "payload")));
  const type = String(statement.predicateType || "").replace(/^https:\/\/pausepact\.dev\//, "").replace(/\/v1$/, "");
  const p = statement.predicate || {};
  return { env, type, signer: p.signer, time: p.time, predicate: p };
}

async function checkSignature(d) {
  const sig = (d.env.signatures || [])[0];
  const key = model.pact.members.get(d.signer);
  if (!sig || !key || sig.keyid !== `${key.name}+${key.keyId}`) {
    d.signature = "unknown";
    d.signatureNote = "signed by a key other than the pact's (rotated later): checked by the audit, not here";
    return;
  }
  const type = new TextEncoder().encode(d.env.payloadType);
  const payload = tlog.b64decode(d.env.payload);
  const pae = tlog.concat(new TextEncoder().encode(`DSSEv1 ${type.length} `), type, new TextEncoder().encode(` ${payload.length} `), payload);
  d.signature = (await tlog.ed25519Verify(key.key, tlog.b64decode(sig.sig), pae)) ? "valid" : "invalid";
  d.signatureNote = d.signature === "valid" ? "DSSE signature by the pact's key verified" : "DSSE signature does not verify";
}

async function verifyEntry(index, tree, root) {
  const record = { index, size: tree.size, status: "pending" };
  try {
    if (index >= tree.size) {
      record.status = "beyond";
      record.message = `entry ${index} is beyond the verified checkpoint (size ${tree.size})`;
      return record;
    }
    const entry = await tree.entry(index);
    const leaf = await tlog.leafHash(entry);
    const proof = await tree.inclusionProof(index);
    await tlog.verifyInclusion(leaf, index, tree.size, proof, root);
    record.leaf = tlog.hex(leaf);
    record.proof = proof.map(tlog.hex);
    record.decoded = decodeEntry(entry);
    await checkSignature(record.decoded);
    record.status = record.decoded.signature === "invalid" ? "fail" : "ok";
    record.message = record.status === "ok" ? `included in the checkpoint of size ${tree.size}: proof verified` : "the entry's signature does not verify";
  } catch (exc) {
    record.status = "fail";
    record.message = `${exc.what || "fetch"}: ${exc.message}`;
  }
  return record;
}

function entryStatus(index) {
  const e = model.entries.get(index);
  return e ? e.status : "pending";
}

async function verifyShown() {
  const tree = model.tree;
  const root = model.verified.checkpoint.root;
  const wanted = view.shownEntries(model.dash.state).filter((i) => !model.entries.has(i) || model.entries.get(i).size !== tree.size);
  if (model.dash.charts) for (const c of Object.values(model.dash.charts)) for (const p of c.points) if (!wanted.includes(p.entry) && !model.entries.has(p.entry)) wanted.push(p.entry);
  let next = 0;
  const worker = async () => {
    while (next < wanted.length) {
      const i = wanted[next++];
      const record = await verifyEntry(i, tree, root);
      model.entries.set(i, record);
      view.updateChips(i, record.status);
      if (record.decoded) for (const el of document.querySelectorAll(`[data-time-of="${i}"]`)) el.textContent = (record.decoded.time || "").replace("T", " ").replace(/:\d\dZ$/, "Z");
    }
  };
  await Promise.all(Array.from({ length: VERIFY_CONCURRENCY }, worker));
  document.body.dataset.verifiedEntries = String([...model.entries.values()].filter((e) => e.status === "ok").length);
}

async function showEntry(index) {
  model.selected = index;
  document.getElementById("entry-index").value = String(index);
  if (!model.tree) return view.renderEntry({ error: "no verified checkpoint yet" });
  let record = model.entries.get(index);
  if (!record || record.size !== model.tree.size) {
    view.renderEntry({ error: `verifying entry ${index}…` });
    record = await verifyEntry(index, model.tree, model.verified.checkpoint.root);
    model.entries.set(index, record);
    view.updateChips(index, record.status);
  }
  if (!record.decoded) return view.renderEntry({ error: record.message });
  view.renderEntry(record);
  document.getElementById("viewer").scrollIntoView({ block: "nearest" });
}

// --- the loop ----------------------------------------------------------------------------
const ctx = {
  entryStatus,
  show: (i) => showEntry(i),
  timeOf: (i) => {
    const e = model.entries.get(i);
    return e && e.decoded && e.decoded.time ? e.decoded.time : "";
  },
};

function verificationView() {
  const v = model.verified;
  return {
    failure: model.failure,
    checkpoint: v ? { size: v.checkpoint.size, root: tlog.b64encode(v.checkpoint.root) } : null,
    witnesses: v ? v.witnesses : [],
    quorum: model.pact.trust.quorum,
    consistency: model.consistency,
    seenAt: model.seenAt,
  };
}

function render() {
  const v = verificationView();
  view.renderVerification(v, model.pact.id);
  document.body.dataset.status = model.failure ? "failed" : model.verified ? "verified" : "pending";
  if (model.dash) {
    const state = model.dash.state;
    document.body.dataset.phase = state.phase;
    document.body.dataset.size = String(model.verified.checkpoint.size);
    view.renderBanner(state, model.pact.doc, ctx);
    view.renderThresholds(state, model.pact.doc, model.dash.charts, ctx);
    view.renderMembers(state, model.pact.doc, ctx, model.dash.compute || {});
    view.renderTimeline(state, ctx);
  }
  view.renderHealth(v, model.dash, model.pact.id, siteUrl());
}

function siteUrl() {
  return location.href.replace(/[#?].*$/, "").replace(/index\.html$/, "");
}

async function update() {
  const text = dec.decode(await fetchFresh("checkpoint"));
  if (model.verified && text === model.verified.text) {
    if (model.dash && model.dash.size >= model.verified.checkpoint.size) return;
  } else if (!model.failure) {
    try {
      const { opened, tree } = await checkCheckpoint(text);
      model.verified = opened;
      model.tree = tree;
      model.seenAt = Date.now();
    } catch (exc) {
      if (!(exc instanceof tlog.VerifyError)) throw exc;
      model.failure = { what: exc.what, message: exc.message };
      render();
      return;
    }
  } else {
    return; // after a failure the page keeps showing the last verified state
  }
  const dash = JSON.parse(dec.decode(await fetchFresh("dashboard.json")));
  if (dash.state.pact !== model.pact.id) {
    model.failure = { what: "state", message: `the server's state is for pact ${dash.state.pact}, not ${model.pact.id}` };
    render();
    return;
  }
  model.dash = dash;
  render();
  await verifyShown();
  if (model.selected !== null) await showEntry(model.selected);
}

async function loop() {
  try {
    await update();
    view.fill("network");
  } catch (exc) {
    view.fill("network", `⚠ could not reach the site: ${exc.message}; retrying`);
  }
  setTimeout(loop, POLL_MS);
}

async function main() {
  if (!globalThis.crypto || !crypto.subtle) {
    view.fill("alarm", "✗ This browser cannot verify here: WebCrypto needs a secure context (HTTPS or localhost).").hidden = false;
    return;
  }
  document.getElementById("entry-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const i = Number(document.getElementById("entry-index").value);
    if (Number.isSafeInteger(i) && i >= 0) showEntry(i);
  });
  try {
    model.pact = await loadPact();
  } catch (exc) {
    view.fill("alarm", `✗ ${exc.what || "pact"}: ${exc.message}`).hidden = false;
    document.body.dataset.status = "failed";
    return;
  }
  view.renderEntry(null);
  await loop();
}

main();
