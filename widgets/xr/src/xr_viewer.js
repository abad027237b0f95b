// medimg immersive mesh viewer: three.js + WebXR, an anywidget front end (bundled by `npm run build`
// into ../xr_viewer.js; nothing is fetched at run time).
//
// Model (medimg_kernel/viz/xr.py, class XRViewer):
//   mesh_meta: [{name, color: [r, g, b], opacity, n_vertices, n_faces}]
//   _positions: [bytes]  float32 x,y,z per vertex, world millimetres (RAS)
//   _indices:   [bytes]  uint32 triangle vertex indices, counter-clockwise seen from outside
//   height: int; background: [r, g, b]; modes: ["immersive-vr", "immersive-ar"]
//   xr_status (written here): {"immersive-vr": "available" | "unavailable: <why>", ...}
//   xr_session (written here): the immersive mode while a session runs, else ""
import {
  AmbientLight,
  BufferAttribute,
  BufferGeometry,
  Color,
  DirectionalLight,
  FrontSide,
  Group,
  Mesh,
  MeshStandardMaterial,
  PerspectiveCamera,
  Scene,
  Sphere,
  Vector3,
  WebGLRenderer,
} from "three";
import { OrbitControls } from "three/examples/jsm/controls/OrbitControls.js";

const MM = 0.001; // the scene is in metres, as WebXR's reference spaces are
const LABELS = { "immersive-vr": "Enter VR", "immersive-ar": "View in AR" };

function typed(value, Ctor) {
  if (value instanceof DataView || ArrayBuffer.isView(value)) {
    const bytes = new Uint8Array(value.buffer, value.byteOffset, value.byteLength).slice();
    return new Ctor(bytes.buffer);
  }
  if (value instanceof ArrayBuffer) return new Ctor(value.slice(0));
  return new Ctor(0);
}

export async function xrSupport(mode) {
  if (!window.isSecureContext) {
    return "unavailable: WebXR needs a secure page (https:// or localhost); this page is not one";
  }
  if (!navigator.xr) {
    return "unavailable: this browser has no WebXR (navigator.xr is missing); open the notebook in a " +
      "WebXR browser (Meta Quest Browser, Chrome on Android, Safari on visionOS)";
  }
  try {
    if (await navigator.xr.isSessionSupported(mode)) return "available";
    const what = mode === "immersive-ar" ? "an AR-capable phone or headset (ARCore, visionOS, Quest)" :
      "a VR headset (Quest, Vision Pro, a PC headset with a WebXR runtime)";
    return `unavailable: navigator.xr reports no ${mode} session on this device; it needs ${what}. ` +
      "The 3D view here stays interactive (drag to rotate, scroll to zoom)";
  } catch (err) {
    return `unavailable: WebXR refused to answer (${err && err.message}); a permissions policy may block it`;
  }
}

function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "medimg-xr";
  el.appendChild(root);
  const bar = document.createElement("div");
  bar.className = "medimg-xr-bar";
  const note = document.createElement("div");
  note.className = "medimg-xr-note";
  const stage = document.createElement("div");
  stage.className = "medimg-xr-stage";
  const legend = document.createElement("div");
  legend.className = "medimg-xr-legend";
  root.append(bar, stage, legend, note);

  const renderer = new WebGLRenderer({ antialias: true, alpha: true });
  renderer.setPixelRatio(window.devicePixelRatio || 1);
  renderer.xr.enabled = true;
  stage.appendChild(renderer.domElement);
  const scene = new Scene();
  const camera = new PerspectiveCamera(40, 1, 0.005, 20);
  scene.add(new AmbientLight(0xffffff, 0.45));
  const head = new DirectionalLight(0xffffff, 2.2);
  head.position.set(0.3, 0.5, 1);
  camera.add(head);
  scene.add(camera);
  const group = new Group();
  scene.add(group);
  const controls = new OrbitControls(camera, renderer.domElement);
  controls.enableDamping = false;
  let frames = 0;
  let session = null;

  function draw() {
    renderer.render(scene, camera);
    frames += 1;
    root.dataset.medimgFrames = String(frames);
    if (frames === 1) root.dataset.medimgFirstPaint = String(performance.now());
  }
  controls.addEventListener("change", () => { if (!session) draw(); });

  function size() {
    if (session) return; // the headset owns the size while presenting
    const w = Math.max(200, stage.clientWidth || el.clientWidth || 640);
    const h = model.get("height");
    renderer.setSize(w, h);
    camera.aspect = w / h;
    camera.updateProjectionMatrix();
    if (!session) draw();
  }

  function load() {
    for (const child of [...group.children]) {
      group.remove(child);
      child.geometry.dispose();
      child.material.dispose();
    }
    const meta = model.get("mesh_meta");
    const pos = model.get("_positions");
    const idx = model.get("_indices");
    legend.replaceChildren();
    meta.forEach((m, i) => {
      const g = new BufferGeometry();
      g.setAttribute("position", new BufferAttribute(typed(pos[i], Float32Array), 3));
      g.setIndex(new BufferAttribute(typed(idx[i], Uint32Array), 1));
      g.computeVertexNormals();
      const c = m.color;
      const mat = new MeshStandardMaterial({
        color: new Color(c[0] / 255, c[1] / 255, c[2] / 255),
        roughness: 0.6,
        metalness: 0.0,
        side: FrontSide,
        transparent: m.opacity < 1,
        opacity: m.opacity,
        depthWrite: m.opacity >= 1,
      });
      const mesh = new Mesh(g, mat);
      mesh.name = m.name;
      group.add(mesh);
      const item = document.createElement("span");
      item.className = "medimg-xr-item";
      item.innerHTML = `<i style="background: rgb(${c.join(",")})"></i>`;
      item.append(document.createTextNode(m.name));
      legend.appendChild(item);
    });
    // centre the anatomy at the origin, in metres; frame it with the camera
    group.scale.setScalar(MM);
    group.position.set(0, 0, 0);
    group.updateMatrixWorld(true);
    const sphere = new Sphere();
    const pts = [];
    group.traverse((o) => { if (o.isMesh) { o.geometry.computeBoundingSphere(); pts.push(o); } });
    if (pts.length) {
      const box = pts.map((o) => o.geometry.boundingSphere.clone().applyMatrix4(o.matrixWorld));
      sphere.copy(box[0]);
      for (const b of box.slice(1)) sphere.union(b);
      group.position.sub(sphere.center);
      const r = Math.max(sphere.radius, 1e-3);
      const dist = r / Math.sin((camera.fov * Math.PI) / 360) * 1.05;
      camera.up.set(0, 0, 1);  // RAS: z is superior
      camera.position.set(-dist, 0, dist * 0.15);  // from the left side, slightly above
      camera.near = dist / 100;
      camera.far = dist * 10;
      camera.updateProjectionMatrix();
      controls.target.set(0, 0, 0);
      controls.update();
      root.dataset.medimgRadiusM = r.toFixed(4);
    }
    const bg = model.get("background");
    scene.background = new Color(bg[0] / 255, bg[1] / 255, bg[2] / 255);
    size();
  }

  async function enter(mode, button) {
    try {
      const s = await navigator.xr.requestSession(mode, { optionalFeatures: ["local-floor", "hand-tracking"] });
      session = s;
      if (mode === "immersive-ar") scene.background = null;
      group.position.z -= 0.6;  // half a metre in front of the viewer's eyes
      renderer.xr.setReferenceSpaceType("local");
      await renderer.xr.setSession(s);
      renderer.setAnimationLoop(draw);
      button.textContent = "Exit";
      root.dataset.medimgSession = mode;
      model.set("xr_session", mode);
      model.save_changes();
      s.addEventListener("end", () => {
        renderer.setAnimationLoop(null);
        session = null;
        delete root.dataset.medimgSession;
        model.set("xr_session", "");
        model.save_changes();
        button.textContent = LABELS[mode];
        load();
      });
    } catch (err) {
      session = null;
      note.textContent = `${LABELS[mode]} failed: ${err && err.message}`;
      root.dataset.medimgXrError = String(err && err.message);
    }
  }

  async function buttons() {
    bar.replaceChildren();
    const status = {};
    const reasons = [];
    for (const mode of model.get("modes")) {
      const b = document.createElement("button");
      b.className = "medimg-xr-button";
      b.dataset.mode = mode;
      b.textContent = LABELS[mode] || mode;
      bar.appendChild(b);
      const st = await xrSupport(mode);
      status[mode] = st;
      if (st === "available") {
        b.addEventListener("click", () => (session ? session.end() : enter(mode, b)));
      } else {
        b.disabled = true;
        b.title = st;
        reasons.push(`${LABELS[mode] || mode} ${st}`);
      }
    }
    note.textContent = reasons.join(" · ");
    root.dataset.medimgXr = JSON.stringify(status);
    model.set("xr_status", status);
    model.save_changes();
  }

  stage.addEventListener("keydown", (e) => e.stopPropagation());
  model.on("change:mesh_meta", load);
  model.on("change:_positions", load);
  model.on("change:height", size);
  const ro = new ResizeObserver(() => size());
  ro.observe(stage);
  load();
  buttons();
  return () => {
    ro.disconnect();
    controls.dispose();
    renderer.setAnimationLoop(null);
    renderer.dispose();
  };
}

export default { render };
