// medimg light viewer: three orthogonal planes on a 2D canvas, no WebGL, no network, no build step.
// Python side: medimg_kernel/viz/light.py (class LightViewer). Synced model traits:
//   shape [X, Y, Z] (canonical RAS voxel order: x -> patient Right, y -> Anterior, z -> Superior)
//   spacing [sx, sy, sz] mm; height (px per row); note (text above the canvas)
//   _base: bytes, uint8 X*Y*Z (C order); base_lut: 256*4 RGBA; value_slope/value_inter: real = v*slope+inter
//   display_range [lo, hi] in stored units (client-side window/level on the windowed uint8 image)
//   _labels: [bytes...]; label_meta: [{name, dtype: "uint8"|"uint16"|"uint32", lut: RGBA*(n+1), opacity, visible}]
//   _heat: bytes (float16) or null; heat_meta: {name, lut, opacity, threshold, vmin, vmax, visible}
//   _mods: [bytes...] (uint8); mod_meta: [{name, lut, opacity, visible}]
//   rows: [{title, labels: [layer indices], heat: bool, mods: bool}]; slice_index [i, j, k]
// Slices change client-side (sliders, wheel, arrow keys, clicks) with no kernel round trip; the new
// position is written back to the kernel debounced. keydown never propagates to JupyterLab.

const PLANES = [
  { name: "axial", axis: 2, letters: ["L", "R", "A", "P"] },
  { name: "coronal", axis: 1, letters: ["L", "R", "S", "I"] },
  { name: "sagittal", axis: 0, letters: ["P", "A", "S", "I"] },
];

let F16_TABLE = null;
function f16Table() {
  if (F16_TABLE) return F16_TABLE;
  F16_TABLE = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
    F16_TABLE[h] = e === 0 ? s * 2 ** -14 * (f / 1024) : e === 31 ? (f ? NaN : s * Infinity) : s * 2 ** (e - 15) * (1 + f / 1024);
  }
  return F16_TABLE;
}

function bytesOf(value) {
  if (!value) return null;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  return null;
}

function typed(value, dtype) {
  const u8 = bytesOf(value);
  if (!u8) return null;
  if (dtype === "uint8") return u8;
  const Ctor = dtype === "uint16" || dtype === "float16" ? Uint16Array : Uint32Array;
  const copy = u8.byteOffset % Ctor.BYTES_PER_ELEMENT ? u8.slice() : u8;
  const arr = new Ctor(copy.buffer, copy.byteOffset, copy.byteLength / Ctor.BYTES_PER_ELEMENT);
  if (dtype !== "float16") return arr;
  const table = f16Table(), out = new Float32Array(arr.length);
  for (let i = 0; i < arr.length; i++) out[i] = table[arr[i]];
  return out;
}

function el(tag, cls, parent, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}

function slider(parent, label, min, max, step, value) {
  const wrap = el("label", "medimg-lv-slider", parent);
  el("span", "medimg-lv-label", wrap, label);
  const input = el("input", "", wrap);
  Object.assign(input, { type: "range", min, max, step, value });
  const out = el("span", "medimg-lv-value", wrap);
  return { input, out, wrap };
}

function render({ model, el: root }) {
  root.dataset.medimgRenderStart = String(performance.now());
  root.classList.add("medimg-lv");
  root.tabIndex = 0;
  const note = el("div", "medimg-lv-note", root);
  const canvas = el("canvas", "medimg-lv-canvas", root);
  const controls = el("div", "medimg-lv-controls", root);
  const ctx = canvas.getContext("2d");
  const state = { base: null, labels: [], heat: null, mods: [], slice: [0, 0, 0], active: 2, frames: 0 };
  const off = document.createElement("canvas");
  const offCtx = off.getContext("2d");

  // ---------------------------------------------------------------- data
  function loadData() {
    state.base = typed(model.get("_base"), "uint8");
    const meta = model.get("label_meta") || [];
    state.labels = (model.get("_labels") || []).map((b, i) => typed(b, (meta[i] || {}).dtype || "uint8"));
    state.heat = typed(model.get("_heat"), "float16");
    state.mods = (model.get("_mods") || []).map((b) => typed(b, "uint8"));
  }

  // ------------------------------------------------------------ controls
  const sliceSliders = PLANES.map((p) => slider(controls, `${p.name} ${"xyz"[p.axis]}`, 0, 1, 1, 0));
  const wlBox = el("div", "medimg-lv-row", controls);
  const level = slider(wlBox, "level", 0, 255, 1, 128);
  const width = slider(wlBox, "width", 1, 255, 1, 255);
  const layerBox = el("div", "medimg-lv-row", controls);

  function rebuildLayerControls() {
    layerBox.textContent = "";
    (model.get("label_meta") || []).forEach((m, i) => {
      const box = el("span", "medimg-lv-layer", layerBox);
      const cb = el("input", "", box);
      cb.type = "checkbox";
      cb.checked = m.visible !== false;
      el("span", "", box, m.name);
      const op = slider(box, "opacity", 0, 1, 0.05, m.opacity);
      op.out.textContent = Number(m.opacity).toFixed(2);
      const commit = () => {
        const all = (model.get("label_meta") || []).map((x) => ({ ...x }));
        all[i].visible = cb.checked;
        all[i].opacity = Number(op.input.value);
        model.set("label_meta", all);
        model.save_changes();
      };
      cb.addEventListener("change", commit);
      op.input.addEventListener("input", () => {
        op.out.textContent = Number(op.input.value).toFixed(2);
        const all = (model.get("label_meta") || []).map((x) => ({ ...x }));
        all[i].opacity = Number(op.input.value);
        model.set("label_meta", all); // local redraw; saved on change
      });
      op.input.addEventListener("change", commit);
    });
    const h = model.get("heat_meta") || {};
    if (state.heat && h.lut) {
      const box = el("span", "medimg-lv-layer", layerBox);
      const cb = el("input", "", box);
      cb.type = "checkbox";
      cb.checked = h.visible !== false;
      el("span", "", box, h.name || "overlay");
      const op = slider(box, "opacity", 0, 1, 0.05, h.opacity);
      op.out.textContent = Number(h.opacity).toFixed(2);
      const lo = h.vmin, hi = h.vmax;
      const th = slider(box, "threshold", lo, hi, (hi - lo) / 100 || 0.01, h.threshold ?? lo);
      th.out.textContent = Number(h.threshold ?? lo).toPrecision(3);
      const update = (save) => {
        op.out.textContent = Number(op.input.value).toFixed(2);
        th.out.textContent = Number(th.input.value).toPrecision(3);
        model.set("heat_meta", { ...model.get("heat_meta"), visible: cb.checked, opacity: Number(op.input.value), threshold: Number(th.input.value) });
        if (save) model.save_changes();
      };
      cb.addEventListener("change", () => update(true));
      for (const s of [op, th]) {
        s.input.addEventListener("input", () => update(false));
        s.input.addEventListener("change", () => update(true));
      }
    }
  }

  function syncControls() {
    const shape = model.get("shape");
    PLANES.forEach((p, n) => {
      const s = sliceSliders[n];
      s.input.max = Math.max(0, shape[p.axis] - 1);
      s.input.value = state.slice[p.axis];
      s.out.textContent = `${state.slice[p.axis]} / ${shape[p.axis] - 1}`;
    });
    const [lo, hi] = model.get("display_range");
    level.input.value = (lo + hi) / 2;
    width.input.value = hi - lo;
    const slope = model.get("value_slope"), inter = model.get("value_inter");
    level.out.textContent = ((lo + hi) / 2 * slope + inter).toPrecision(4);
    width.out.textContent = ((hi - lo) * slope).toPrecision(4);
  }

  // ------------------------------------------------------------- drawing
  function planeGeometry(p, shape, spacing) {
    if (p.axis === 2) return { w: shape[0], h: shape[1], pw: spacing[0], ph: spacing[1] };
    if (p.axis === 1) return { w: shape[0], h: shape[2], pw: spacing[0], ph: spacing[2] };
    return { w: shape[1], h: shape[2], pw: spacing[1], ph: spacing[2] };
  }

  // voxel index of screen pixel (c, r) in plane p at the current slice
  function voxelOf(p, c, r, shape) {
    const [X, Y, Z] = shape, s = state.slice;
    if (p.axis === 2) return [c, Y - 1 - r, s[2]];
    if (p.axis === 1) return [c, s[1], Z - 1 - r];
    return [s[0], c, Z - 1 - r];
  }

  function layout() {
    const rows = model.get("rows") || [{ title: "", labels: [], heat: true, mods: true }];
    const rowH = model.get("height");
    const shape = model.get("shape"), spacing = model.get("spacing");
    const geo = PLANES.map((p) => planeGeometry(p, shape, spacing));
    // panel widths proportional to the physical width of each plane at the row height
    const mmH = Math.max(...geo.map((g) => g.h * g.ph));
    const scale = (rowH - 4) / mmH;
    const widths = geo.map((g) => Math.max(40, Math.round(g.w * g.pw * scale)));
    const W = widths.reduce((a, b) => a + b, 0) + 4 * (PLANES.length + 1);
    return { rows, rowH, shape, geo, scale, widths, W, H: rowH * rows.length };
  }

  function composePlane(p, g, row, shape) {
    const [X, Y, Z] = shape;
    const img = offCtx.createImageData(g.w, g.h);
    const px = img.data;
    const [lo, hi] = model.get("display_range");
    const baseLut = model.get("base_lut");
    const span = Math.max(1e-6, hi - lo);
    const lmeta = model.get("label_meta") || [];
    const hmeta = model.get("heat_meta") || {};
    const mmeta = model.get("mod_meta") || [];
    const showHeat = row.heat !== false && state.heat && hmeta.visible !== false && hmeta.lut;
    const hThr = hmeta.threshold ?? hmeta.vmin, hSpan = Math.max(1e-12, hmeta.vmax - hThr);
    const labelIdx = (row.labels || []).filter((i) => state.labels[i] && (lmeta[i] || {}).visible !== false);
    const mods = row.mods === false ? [] : state.mods.map((d, i) => [d, mmeta[i] || {}]).filter(([, m]) => m.visible !== false);
    for (let r = 0; r < g.h; r++) {
      for (let c = 0; c < g.w; c++) {
        const [x, y, z] = voxelOf(p, c, r, shape);
        const idx = (x * Y + y) * Z + z;
        let t = Math.round(((state.base[idx] - lo) / span) * 255);
        t = t < 0 ? 0 : t > 255 ? 255 : t;
        let R = baseLut[4 * t], G = baseLut[4 * t + 1], B = baseLut[4 * t + 2];
        for (const [d, m] of mods) {
          const v = d[idx];
          if (v > 0) {
            const a = m.opacity;
            R += (m.lut[4 * v] - R) * a; G += (m.lut[4 * v + 1] - G) * a; B += (m.lut[4 * v + 2] - B) * a;
          }
        }
        if (showHeat) {
          const v = state.heat[idx];
          if (hmeta.threshold == null ? v > hmeta.vmin : v >= hmeta.threshold) {
            let k = Math.round(((v - hThr) / hSpan) * 255);
            k = k < 0 ? 0 : k > 255 ? 255 : k;
            const a = hmeta.opacity, L = hmeta.lut;
            R += (L[4 * k] - R) * a; G += (L[4 * k + 1] - G) * a; B += (L[4 * k + 2] - B) * a;
          }
        }
        for (const li of labelIdx) {
          const v = state.labels[li][idx];
          if (v > 0) {
            const m = lmeta[li], L = m.lut;
            if (4 * v + 3 < L.length) {
              const a = (L[4 * v + 3] / 255) * m.opacity;
              R += (L[4 * v] - R) * a; G += (L[4 * v + 1] - G) * a; B += (L[4 * v + 2] - B) * a;
            }
          }
        }
        const o = 4 * (r * g.w + c);
        px[o] = R; px[o + 1] = G; px[o + 2] = B; px[o + 3] = 255;
      }
    }
    return img;
  }

  let lay = null;
  function draw() {
    if (!state.base) return;
    lay = layout();
    if (canvas.width !== lay.W || canvas.height !== lay.H) {
      canvas.width = lay.W;
      canvas.height = lay.H;
      canvas.style.maxWidth = `${lay.W}px`;
    }
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, lay.W, lay.H);
    ctx.imageSmoothingEnabled = false;
    lay.rects = [];
    lay.rows.forEach((row, ri) => {
      let x0 = 4;
      PLANES.forEach((p, n) => {
        const g = lay.geo[n];
        const img = composePlane(p, g, row, lay.shape);
        off.width = g.w;
        off.height = g.h;
        offCtx.putImageData(img, 0, 0);
        const dw = Math.round(g.w * g.pw * lay.scale), dh = Math.round(g.h * g.ph * lay.scale);
        const dx = x0 + Math.round((lay.widths[n] - dw) / 2), dy = ri * lay.rowH + Math.round((lay.rowH - dh) / 2);
        ctx.drawImage(off, 0, 0, g.w, g.h, dx, dy, dw, dh);
        lay.rects.push({ p, n, ri, dx, dy, dw, dh, g });
        // crosshair
        const [X, Y, Z] = lay.shape, s = state.slice;
        let cx, cy;
        if (p.axis === 2) { cx = s[0]; cy = Y - 1 - s[1]; }
        else if (p.axis === 1) { cx = s[0]; cy = Z - 1 - s[2]; }
        else { cx = s[1]; cy = Z - 1 - s[2]; }
        ctx.strokeStyle = "rgba(0, 255, 0, 0.55)";
        ctx.lineWidth = 1;
        ctx.beginPath();
        const sx = dx + ((cx + 0.5) / g.w) * dw, sy = dy + ((cy + 0.5) / g.h) * dh;
        ctx.moveTo(sx, dy); ctx.lineTo(sx, dy + dh); ctx.moveTo(dx, sy); ctx.lineTo(dx + dw, sy);
        ctx.stroke();
        ctx.fillStyle = "#ff0";
        ctx.font = "12px sans-serif";
        ctx.textBaseline = "middle";
        ctx.fillText(p.letters[0], dx + 2, dy + dh / 2);
        ctx.fillText(p.letters[1], dx + dw - 10, dy + dh / 2);
        ctx.textBaseline = "top";
        ctx.fillText(p.letters[2], dx + dw / 2, dy + 2);
        ctx.textBaseline = "bottom";
        ctx.fillText(p.letters[3], dx + dw / 2, dy + dh - 2);
        x0 += lay.widths[n] + 4;
      });
      if (row.title) {
        ctx.fillStyle = "#fff";
        ctx.textBaseline = "top";
        ctx.font = "bold 13px sans-serif";
        ctx.fillText(row.title, 8, ri * lay.rowH + 4);
      }
    });
    state.frames += 1;
    root.dataset.medimgFrames = String(state.frames);
    if (state.frames === 1) root.dataset.medimgFirstPaint = String(performance.now());
    syncControls();
  }

  let pending = false;
  function redraw() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; draw(); });
  }

  // --------------------------------------------------- interaction
  let saveTimer = null;
  function commitSlice(delay = 250) {
    clearTimeout(saveTimer);
    saveTimer = setTimeout(() => { model.set("slice_index", [...state.slice]); model.save_changes(); }, delay);
  }
  function setSlice(axis, value, save = true) {
    const shape = model.get("shape");
    state.slice[axis] = Math.max(0, Math.min(shape[axis] - 1, Math.round(value)));
    redraw();
    if (save) commitSlice();
  }
  PLANES.forEach((p, n) => {
    sliceSliders[n].input.addEventListener("input", (e) => { state.active = p.axis; setSlice(p.axis, Number(e.target.value), false); });
    sliceSliders[n].input.addEventListener("change", () => commitSlice(0));
  });
  const wlInput = (save) => {
    const l = Number(level.input.value), w = Number(width.input.value);
    model.set("display_range", [l - w / 2, l + w / 2]);
    if (save) model.save_changes();
  };
  for (const s of [level, width]) {
    s.input.addEventListener("input", () => wlInput(false));
    s.input.addEventListener("change", () => wlInput(true));
  }
  function hit(ev) {
    if (!lay) return null;
    const b = canvas.getBoundingClientRect();
    const x = ((ev.clientX - b.left) / b.width) * canvas.width, y = ((ev.clientY - b.top) / b.height) * canvas.height;
    for (const rc of lay.rects) {
      if (x >= rc.dx && x < rc.dx + rc.dw && y >= rc.dy && y < rc.dy + rc.dh) {
        const c = Math.floor(((x - rc.dx) / rc.dw) * rc.g.w), r = Math.floor(((y - rc.dy) / rc.dh) * rc.g.h);
        return { rc, c, r };
      }
    }
    return null;
  }
  let dragging = false;
  function pointAt(ev) {
    const h = hit(ev);
    if (!h) return;
    state.active = h.rc.p.axis;
    const [x, y, z] = voxelOf(h.rc.p, h.c, h.r, model.get("shape"));
    const keep = state.slice[h.rc.p.axis];
    state.slice = [x, y, z];
    state.slice[h.rc.p.axis] = keep;
    redraw();
    commitSlice();
  }
  canvas.addEventListener("pointerdown", (ev) => { dragging = true; root.focus(); pointAt(ev); });
  canvas.addEventListener("pointermove", (ev) => { if (dragging) pointAt(ev); });
  window.addEventListener("pointerup", () => { dragging = false; });
  canvas.addEventListener("wheel", (ev) => {
    const h = hit(ev);
    if (!h) return;
    ev.preventDefault();
    state.active = h.rc.p.axis;
    setSlice(h.rc.p.axis, state.slice[h.rc.p.axis] + (ev.deltaY < 0 ? 1 : -1));
  }, { passive: false });
  // JupyterLab binds arrow keys on the notebook: keep every key press inside the widget
  root.addEventListener("keydown", (ev) => {
    ev.stopPropagation();
    const step = { ArrowUp: 1, ArrowRight: 1, PageUp: 10, ArrowDown: -1, ArrowLeft: -1, PageDown: -10 }[ev.key];
    if (step !== undefined && ev.target.tagName !== "INPUT") {
      ev.preventDefault();
      setSlice(state.active, state.slice[state.active] + step);
    }
  });

  // -------------------------------------------------------- model
  function fromModel() {
    state.slice = [...(model.get("slice_index") || [0, 0, 0])];
    note.textContent = model.get("note") || "";
    note.style.display = model.get("note") ? "" : "none";
  }
  model.on("change:slice_index", () => { state.slice = [...model.get("slice_index")]; redraw(); });
  model.on("change:note", () => { fromModel(); });
  for (const name of ["_base", "_labels", "_heat", "_mods", "shape"]) model.on(`change:${name}`, () => { loadData(); redraw(); });
  for (const name of ["display_range", "base_lut", "mod_meta", "rows", "height", "spacing"]) model.on(`change:${name}`, redraw);
  model.on("change:label_meta", redraw);
  model.on("change:heat_meta", redraw);
  for (const name of ["label_meta", "heat_meta"]) model.on(`change:${name}`, () => {
    if (!root.contains(document.activeElement) || document.activeElement.type !== "range") rebuildLayerControls();
  });

  fromModel();
  loadData();
  rebuildLayerControls();
  draw();
  return () => { clearTimeout(saveTimer); };
}

export default { render };
