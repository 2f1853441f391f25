// A linear probe on VQ codes: where is shape lost, in the VQ or in the transformer? A softmax
// regression reads each attribute from an image's codes (one-hot code per grid cell, and a bag of
// codes), trained on training-split images and scored on held-out pairs and on unseen images of seen
// pairs. If the probe reads shape from the codes of held-out pairs, the codes carry it and the
// transformer is what fails; if it reads shape on seen pairs only, the codes tie the outline to the
// colour (an edge code means "red straight edge", not "straight edge") and no caption model can
// transfer it. The mask probe (colour-blind by construction) says whether the grid resolves the
// outline at all. No tfjs: plain SGD on a few thousand sparse rows (seconds).

/** Sparse features of one image: index of (cell, code) for every cell, then the bag of codes. */
function codeFeatures(codes, codebook) {
  const idx = new Int32Array(codes.length * 2);
  for (let i = 0; i < codes.length; i++) {
    idx[i] = i * codebook + codes[i];
    idx[codes.length + i] = codes.length * codebook + codes[i];
  }
  return idx;
}

/**
 * The background codes of each cell: those found at that cell in at least 8 % of the training images.
 * Per cell, because the encoder's zero padding gives the border cells their own background codes; a
 * shape covers a given cell in at most a quarter of the images (one of four places), a colour of it in
 * ~4 %, while the few greys of the background take the rest.
 */
function backgroundCodes(allCodes) {
  const n = allCodes[0].length;
  const count = Array.from({ length: n }, () => new Map());
  for (const codes of allCodes)
    for (let i = 0; i < n; i++) count[i].set(codes[i], (count[i].get(codes[i]) ?? 0) + 1);
  return count.map((m) => new Set([...m].filter(([, k]) => k >= 0.08 * allCodes.length).map(([c]) => c)));
}

/**
 * Colour-blind features: which cells around the foreground's centre are not background. What a model could read the outline from if it
 * first learnt "this code is not background" (every colour's codes are, in training) and then the
 * layout: it transfers to a new colour × shape pair.
 */
function maskFeatures(codes, bg) {
  const side = Math.round(Math.sqrt(codes.length));
  const fg = [];
  for (let i = 0; i < codes.length; i++) if (!bg[i].has(codes[i])) fg.push(i);
  if (fg.length === 0) return Int32Array.of(0);
  // Cells relative to the foreground's centroid (a window of ±side/4), so the layout, not the place, counts.
  const cx = Math.round(fg.reduce((a, i) => a + (i % side), 0) / fg.length);
  const cy = Math.round(fg.reduce((a, i) => a + Math.floor(i / side), 0) / fg.length);
  const r = Math.ceil(side / 4);
  const w = 2 * r + 1;
  const out = [0]; // a constant feature: no row is empty
  for (const i of fg) {
    const dx = (i % side) - cx;
    const dy = Math.floor(i / side) - cy;
    if (Math.abs(dx) <= r && Math.abs(dy) <= r) out.push(1 + (dy + r) * w + dx + r);
  }
  return Int32Array.from(out);
}

/** Softmax regression on sparse binary features (SGD); returns predict(features) → class index. */
function fit(rows, labels, k, dims, { epochs = 60, lr = 0.5, l2 = 1e-4 } = {}) {
  const w = new Float32Array(dims * k);
  const b = new Float32Array(k);
  const logits = new Float32Array(k);
  const scale = 1 / rows[0].length;
  const score = (x) => {
    for (let c = 0; c < k; c++) {
      let s = b[c];
      for (const f of x) s += w[f * k + c] * scale;
      logits[c] = s;
    }
    return logits;
  };
  for (let e = 0; e < epochs; e++) {
    const step = lr * (1 - e / epochs);
    for (let r = 0; r < rows.length; r++) {
      const z = score(rows[r]);
      const max = Math.max(...z);
      let sum = 0;
      for (let c = 0; c < k; c++) {
        z[c] = Math.exp(z[c] - max);
        sum += z[c];
      }
      for (let c = 0; c < k; c++) {
        const g = z[c] / sum - (c === labels[r] ? 1 : 0);
        b[c] -= step * g;
        for (const f of rows[r]) w[f * k + c] -= step * (g * scale + l2 * w[f * k + c]);
      }
    }
  }
  return (x) => {
    const z = score(x);
    let best = 0;
    for (let c = 1; c < k; c++) if (z[c] > z[best]) best = c;
    return best;
  };
}

/**
 * Probe accuracy per feature kind and attribute. `train`, `tests.*`: { codes: Int32Array[], scenes };
 * `values`: { colour: ids, shape: ids, position: ids }.
 */
export function probeCodes({ codebook, train, tests, values }) {
  const out = {};
  const n = train.codes[0].length;
  const bg = backgroundCodes(train.codes);
  const kinds = {
    codes: { of: (c) => codeFeatures(c, codebook), dims: (n + 1) * codebook },
    mask: { of: (c) => maskFeatures(c, bg), dims: 2 + (2 * Math.ceil(Math.sqrt(n) / 4) + 1) ** 2 },
  };
  // Codes of each test set that no training image has: a model with one embedding row per code id
  // would never have seen them as inputs (0 for the 16×16 VQ: every held-out code is in training).
  const trained = new Set(train.codes.flatMap((c) => Array.from(c)));
  out.unseen_codes = {};
  for (const [name, t] of Object.entries(tests)) {
    const all = t.codes.flatMap((c) => Array.from(c));
    out.unseen_codes[name] = Number((all.filter((c) => !trained.has(c)).length / all.length).toFixed(4));
  }
  for (const [kind, f] of Object.entries(kinds)) {
    const dims = f.dims;
    const rows = train.codes.map((c) => f.of(c));
    for (const [attr, ids] of Object.entries(values)) {
      const labels = train.scenes.map((s) => ids.indexOf(s[attr]));
      const predict = fit(rows, labels, ids.length, dims);
      for (const [name, t] of Object.entries(tests)) {
        let right = 0;
        for (let i = 0; i < t.codes.length; i++)
          right += ids[predict(f.of(t.codes[i]))] === t.scenes[i][attr] ? 1 : 0;
        out[kind] ??= {};
        out[kind][name] ??= {};
        out[kind][name][attr] = Number((right / t.codes.length).toFixed(3));
      }
    }
  }
  return out;
}
