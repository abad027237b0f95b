// medimg WebGL2 probe: tells the kernel whether this browser can run NiiVue (WebGL2), no network.
// Python side: medimg_kernel/viz/probe.py (class WebGL2Probe). Synced traits:
//   webgl2: "unknown" -> "yes" | "no" (set here); renderer: GPU/renderer string or the error;
//   show_result: show a line of text with the result (welcome notebook); fallback_note: text shown
//   when WebGL2 is missing (view() swaps NiiVue for the light viewer as soon as the kernel hears it).
function probe() {
  try {
    const canvas = document.createElement("canvas");
    const gl = canvas.getContext("webgl2");
    if (!gl) return { ok: false, renderer: "canvas.getContext('webgl2') returned null" };
    const ext = gl.getExtension("WEBGL_debug_renderer_info");
    const renderer = String(gl.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
    const lose = gl.getExtension("WEBGL_lose_context");
    if (lose) lose.loseContext();
    return { ok: true, renderer };
  } catch (err) {
    return { ok: false, renderer: String(err) };
  }
}

function render({ model, el }) {
  const { ok, renderer } = probe();
  el.classList.add("medimg-probe");
  el.dataset.webgl2 = ok ? "yes" : "no";
  if (model.get("show_result")) {
    el.textContent = ok ? `WebGL2: available (${renderer})` : `WebGL2: NOT available (${renderer}); 3D views use the light viewer`;
    el.classList.add(ok ? "medimg-probe-ok" : "medimg-probe-missing");
  } else if (!ok && model.get("fallback_note")) {
    el.textContent = model.get("fallback_note");
    el.classList.add("medimg-probe-missing");
  } else {
    el.style.display = "none";
  }
  if (model.get("webgl2") !== (ok ? "yes" : "no")) {
    model.set("webgl2", ok ? "yes" : "no");
    model.set("renderer", renderer);
    model.save_changes();
  }
}

export default { render };
