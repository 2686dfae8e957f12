// SPDX-License-Identifier: MIT
// cctv serve: the case on one wall-clock timeline, playback, the dashcam's
// map and speed, export. Times are Unix milliseconds, shown in UTC.
'use strict';

const S = {
  cams: [],
  full: [0, 1],
  view: [0, 1],
  sel: null,
  tiles: [],
  track: null,
  trackCam: null,
  // Playback failures seen by this page (shown, and read by the tests).
  errors: 0,
};
const $ = (id) => document.getElementById(id);
const pad = (n, w = 2) => String(n).padStart(w, '0');

function fmt(ms) {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

function parseUtc(text) {
  const m = text.trim().match(/^(\d{4})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(\.\d+)?Z?$/);
  if (!m) return NaN;
  return Date.UTC(+m[1], m[2] - 1, +m[3], +m[4], +m[5], +m[6]) +
    (m[7] ? Math.round(parseFloat(m[7]) * 1000) : 0);
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
}

// ---- timeline -------------------------------------------------------------

function xOf(t, width) {
  return ((t - S.view[0]) / (S.view[1] - S.view[0])) * width;
}

function tOf(ev, target) {
  const r = target.getBoundingClientRect();
  return S.view[0] + ((ev.clientX - r.left) / r.width) * (S.view[1] - S.view[0]);
}

function place(node, from, to, width) {
  const a = Math.max(0, xOf(from, width));
  const b = Math.min(width, xOf(to, width));
  node.style.left = `${a}px`;
  node.style.width = `${Math.max(2, b - a)}px`;
  return b >= 0 && a <= width;
}

const STEPS = [1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 43200, 86400]
  .map((s) => s * 1000);

function renderAxis() {
  const axis = $('axis');
  axis.replaceChildren();
  const width = axis.clientWidth || 800;
  const span = S.view[1] - S.view[0];
  const step = STEPS.find((s) => span / s <= 8) || STEPS[STEPS.length - 1];
  for (let t = Math.ceil(S.view[0] / step) * step; t < S.view[1]; t += step) {
    const tick = el('span', 'tick', step >= 86400000 ? fmt(t).slice(0, 10) : fmt(t).slice(step >= 60000 ? 11 : 11, step >= 60000 ? 16 : 19));
    tick.style.left = `${xOf(t, width)}px`;
    axis.append(tick);
  }
  if (S.sel) {
    const s = el('div', 'selection');
    place(s, Math.min(...S.sel), Math.max(...S.sel), width);
    axis.append(s);
  }
}

// Rebuilds the rows (on zoom, resize, selection); playback only moves the
// playheads, so that a click is never split across two versions of a row.
function render() {
  renderAxis();
  for (const cam of S.cams) {
    const track = cam.track;
    track.replaceChildren();
    const width = track.clientWidth || 800;
    for (const sp of cam.spans) {
      const d = el('div', 'span');
      d.title = `${sp.file}: ${fmt(sp.from)} – ${fmt(sp.to)}`;
      d.dataset.file = sp.file;
      if (place(d, sp.from, sp.to, width)) track.append(d);
    }
    for (const [a, b] of cam.gaps) {
      const d = el('div', 'gap');
      d.title = `gap ${fmt(a)} – ${fmt(b)}`;
      if (place(d, a, b, width)) track.append(d);
    }
    for (const o of cam.overlaps) {
      const d = el('div', 'overlap');
      d.title = `overlapping recordings ${fmt(o.from)} – ${fmt(o.to)}`;
      if (place(d, o.from, o.to, width)) track.append(d);
    }
    if (S.sel) {
      const s = el('div', 'selection');
      place(s, Math.min(...S.sel), Math.max(...S.sel), width);
      track.append(s);
    }
    cam.playhead = el('div', 'playhead');
    cam.playhead.hidden = true;
    track.append(cam.playhead);
  }
  movePlayheads();
}

function movePlayheads() {
  for (const cam of S.cams) {
    const tile = S.tiles.find((x) => x.cam === cam);
    const t = tile ? tileTime(tile) : null;
    if (!cam.playhead) continue;
    cam.playhead.hidden = t == null;
    if (t != null) cam.playhead.style.left = `${xOf(t, cam.track.clientWidth || 800)}px`;
  }
}

function zoom(factor, around) {
  const [a, b] = S.view;
  const c = around ?? (a + b) / 2;
  let na = c - (c - a) * factor;
  let nb = c + (b - c) * factor;
  if (nb - na < 2000) {
    na = c - 1000;
    nb = c + 1000;
  }
  const full = S.full[1] - S.full[0];
  if (nb - na > full) [na, nb] = S.full;
  S.view = [na, nb];
  render();
}

function buildRows() {
  const rows = $('rows');
  rows.replaceChildren();
  for (const cam of S.cams) {
    const row = el('div', 'row');
    row.dataset.camera = cam.id;
    const label = el('div', 'label');
    const twin = S.cams.some((c) => c !== cam && c.name === cam.name);
    const name = el('span', 'name', twin && cam.device ? `${cam.name} · ${cam.device}` : cam.name);
    name.title = `${cam.id} (${cam.format})`;
    label.append(name);
    if (cam.duplicates.length) {
      const d = el('span', 'dup', `${cam.duplicates.length} duplicate${cam.duplicates.length > 1 ? 's' : ''}`);
      d.title = cam.duplicates.map((x) => `${x.file} = ${x.of}`).join('\n');
      label.append(d);
    }
    const add = el('button', 'add', '+ grid');
    add.title = 'Play in the grid, in sync';
    add.dataset.role = 'add-to-grid';
    add.addEventListener('click', () => addTile(cam, masterTime() ?? cam.spans[0].from));
    label.append(add);
    const track = el('div', 'track');
    track.dataset.role = 'track';
    track.addEventListener('click', (ev) => playOnly(cam, tOf(ev, track)));
    row.append(label, track);
    rows.append(row);
    cam.row = row;
    cam.track = track;
  }
  const boxes = $('export-cameras');
  boxes.replaceChildren();
  for (const cam of S.cams) {
    const l = el('label');
    const c = el('input');
    c.type = 'checkbox';
    c.value = cam.id;
    c.dataset.camera = cam.id;
    cam.exportBox = c;
    l.append(c, ` ${cam.name}`);
    boxes.append(l);
  }
}

function setupTimeline() {
  const tl = $('timeline');
  tl.addEventListener('wheel', (ev) => {
    const track = ev.target.closest('.track, .axis');
    if (!track) return;
    ev.preventDefault();
    zoom(ev.deltaY < 0 ? 0.8 : 1.25, tOf(ev, track));
  }, { passive: false });
  $('zoom-in').addEventListener('click', () => zoom(0.5, masterTime() ?? undefined));
  $('zoom-out').addEventListener('click', () => zoom(2, masterTime() ?? undefined));
  $('zoom-fit').addEventListener('click', () => { S.view = S.full.slice(); render(); });
  const axis = $('axis');
  let dragging = false;
  axis.addEventListener('mousedown', (ev) => {
    dragging = true;
    const t = tOf(ev, axis);
    S.sel = [t, t];
    render();
  });
  window.addEventListener('mousemove', (ev) => {
    if (!dragging) return;
    S.sel[1] = tOf(ev, axis);
    render();
  });
  window.addEventListener('mouseup', () => {
    if (!dragging) return;
    dragging = false;
    const [a, b] = [Math.min(...S.sel), Math.max(...S.sel)];
    if (b - a < 500) {
      S.sel = null;
    } else {
      $('export-from').value = fmt(a);
      $('export-to').value = fmt(Math.ceil(b / 1000) * 1000);
    }
    render();
  });
  window.addEventListener('resize', render);
}

// ---- playback -------------------------------------------------------------

function tileTime(tile) {
  if (tile.start == null || tile.pending) return null;
  return tile.start + tile.video.currentTime * 1000;
}

function masterTime() {
  return S.tiles.length ? tileTime(S.tiles[0]) : null;
}

async function startTile(tile, t) {
  const gen = ++tile.gen;
  tile.starts = (tile.starts || 0) + 1;
  tile.pending = true;
  tile.synced = performance.now();
  const r = await fetch(`api/locate/${encodeURIComponent(tile.cam.id)}?t=${Math.round(t)}`);
  if (gen !== tile.gen) return;
  if (r.status === 503) {
    // The server is at its playback limit: try again shortly.
    tile.caption.textContent = `${tile.cam.name}: server busy, retrying`;
    setTimeout(() => { if (gen === tile.gen) startTile(tile, t); }, 1000);
    return;
  }
  if (!r.ok) {
    const why = (await r.text()).trim();
    // 404: this camera recorded nothing from then (a grid tile waits for
    // the clock to reach its recordings); anything else is an error.
    if (r.status !== 404) {
      S.errors++;
      S.lastError = `${tile.cam.id} at ${Math.round(t)}: ${why}`;
    }
    tile.caption.textContent = `${tile.cam.name}: ${why}`;
    tile.video.removeAttribute('src');
    tile.start = null;
    tile.pending = false;
    return;
  }
  const at = await r.json();
  if (gen !== tile.gen) return;
  tile.start = at.start;
  tile.end = at.end;
  tile.next = at.next;
  tile.pending = false;
  tile.caption.textContent = tile.cam.name;
  tile.video.src = at.src;
  tile.video.play().catch(() => {});
}

function addTile(cam, t) {
  const old = S.tiles.find((x) => x.cam === cam);
  if (old) {
    startTile(old, t);
    return old;
  }
  const box = el('div', 'tile');
  box.dataset.camera = cam.id;
  const video = el('video');
  video.muted = true;
  video.autoplay = true;
  video.playsInline = true;
  video.controls = true;
  const caption = el('span', 'caption', cam.name);
  const close = el('button', 'close', '×');
  box.append(video, caption, close);
  $('grid').append(box);
  const tile = { cam, video, caption, box, gen: 0, start: null, end: null, next: null, pending: false, synced: 0 };
  close.addEventListener('click', () => removeTile(tile));
  video.addEventListener('error', () => {
    // Removing the source on purpose also ends in `error`: not counted.
    if (!video.getAttribute('src')) return;
    // A playback interrupted after it had played (the browser dropped
    // the connection of a long pause): start again from where it was,
    // once in a while.
    const at = tileTime(tile);
    if (at != null && video.currentTime > 1 && performance.now() - (tile.recovered || 0) > 10000) {
      tile.recovered = performance.now();
      startTile(tile, at);
      return;
    }
    S.errors++;
    S.lastError = `${cam.id} ${video.src}: ${video.error ? video.error.message || 'cannot play' : 'cannot play'}`;
    caption.textContent = `${cam.name}: ${S.lastError}`;
  });
  video.addEventListener('ended', () => {
    if (tile.next != null && S.tiles.includes(tile)) startTile(tile, tile.next);
  });
  S.tiles.push(tile);
  cam.row.classList.add('active');
  startTile(tile, t);
  if (S.tiles.length === 1) showDash(cam);
  return tile;
}

function removeTile(tile) {
  tile.gen++;
  // Ends the request: the server stops that pipeline.
  tile.video.removeAttribute('src');
  tile.video.load();
  tile.box.remove();
  tile.cam.row.classList.remove('active');
  S.tiles = S.tiles.filter((x) => x !== tile);
  if (S.tiles.length) showDash(S.tiles[0].cam);
  else $('dash').hidden = true;
}

function playOnly(cam, t) {
  for (const tile of S.tiles.slice()) if (tile.cam !== cam) removeTile(tile);
  const tile = addTile(cam, t);
  if (S.tiles[0] !== tile) return;
  showDash(cam);
  for (const c of S.cams) c.exportBox.checked = c === cam;
}

function tick() {
  const t = masterTime();
  const shown = $('capture-time');
  if (t != null) {
    shown.textContent = fmt(t);
    shown.dataset.ms = String(Math.round(t));
    $('playing').textContent = S.tiles[0].cam.name;
    $('speed').textContent = speedAt(t);
    moveMarker(t);
    // The grid follows the first tile's clock.
    // Each starts at its own key frame: a small lead or lag is made up by
    // playing a little faster or slower, a large one by starting again.
    for (const tile of S.tiles.slice(1)) {
      const u = tileTime(tile);
      if (tile.pending) continue;
      if (u == null || Math.abs(u - t) > 2000) {
        tile.video.playbackRate = 1;
        if (performance.now() - tile.synced >= 5000) startTile(tile, t);
        continue;
      }
      const lag = t - u;
      tile.video.playbackRate = lag > 150 ? 1.25 : lag < -150 ? 0.8 : 1;
    }
  }
  movePlayheads();
}

// ---- dashcam: map and speed -------------------------------------------------

function mercator(lat, lon) {
  const r = (lat * Math.PI) / 180;
  return [(lon + 180) / 360, (1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2];
}

const SVG = 'http://www.w3.org/2000/svg';
function svg(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text != null) e.textContent = text;
  return e;
}

async function showDash(cam) {
  const dash = $('dash');
  if (!cam.telemetry) {
    dash.hidden = true;
    S.track = null;
    return;
  }
  if (S.trackCam === cam && S.track) {
    dash.hidden = false;
    return;
  }
  S.trackCam = cam;
  const r = await fetch(`api/track/${encodeURIComponent(cam.id)}`);
  const samples = r.ok ? await r.json() : [];
  if (S.trackCam !== cam) return;
  S.track = samples;
  dash.hidden = false;
  drawMap(samples);
  drawSpeed(samples);
}

function drawMap(samples) {
  const map = $('map');
  map.replaceChildren();
  const fixes = samples.filter((s) => s[1] != null && s[2] != null);
  map.dataset.points = String(fixes.length);
  if (!fixes.length) {
    map.append(svg('text', { x: 20, y: 150 }, 'no GPS fix'));
    return;
  }
  const pts = fixes.map((s) => mercator(s[1], s[2]));
  const xs = pts.map((p) => p[0]);
  const ys = pts.map((p) => p[1]);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const scale = Math.min(360 / Math.max(x1 - x0, 1e-12), 260 / Math.max(y1 - y0, 1e-12));
  const cx = (x0 + x1) / 2;
  const cy = (y0 + y1) / 2;
  S.project = (lat, lon) => {
    const [x, y] = mercator(lat, lon);
    return [200 + (x - cx) * scale, 150 + (y - cy) * scale];
  };
  const line = svg('polyline', {
    points: fixes.map((s) => S.project(s[1], s[2]).map((v) => v.toFixed(1)).join(',')).join(' '),
  });
  line.dataset.role = 'track';
  map.append(line);
  const [sx, sy] = S.project(fixes[0][1], fixes[0][2]);
  map.append(svg('circle', { cx: sx, cy: sy, r: 3, fill: '#2e7d32' }));
  const pos = svg('circle', { cx: sx, cy: sy, r: 6, fill: '#d32f2f', stroke: '#fff', 'stroke-width': 2 });
  pos.dataset.role = 'position';
  pos.id = 'map-pos';
  map.append(pos);
  const scaleKm = (40075 * Math.cos((fixes[0][1] * Math.PI) / 180)) / scale * 100;
  const km = scaleKm < 1 ? `${Math.round(scaleKm * 1000)} m` : `${scaleKm.toFixed(1)} km`;
  map.append(svg('text', { x: 8, y: 292, 'font-size': 11 }, `100 px ≈ ${km} · offline, no tiles`));
}

function drawSpeed(samples) {
  const chart = $('speed-chart');
  chart.replaceChildren();
  const pts = samples.filter((s) => s[3] != null);
  if (!pts.length) return;
  const t0 = pts[0][0];
  const t1 = Math.max(pts[pts.length - 1][0], t0 + 1);
  const vmax = Math.max(10, ...pts.map((s) => s[3]));
  S.speedX = (t) => 30 + ((t - t0) / (t1 - t0)) * 360;
  const line = svg('polyline', {
    points: pts.map((s) => `${S.speedX(s[0]).toFixed(1)},${(110 - (s[3] / vmax) * 95).toFixed(1)}`).join(' '),
  });
  line.classList.add('speed');
  chart.append(line);
  chart.append(svg('text', { x: 2, y: 18, 'font-size': 10 }, `${Math.round(vmax)}`));
  chart.append(svg('text', { x: 2, y: 110, 'font-size': 10 }, '0 km/h'));
  // The g-sensor's magnitude on its own scale (right), where recorded.
  const gs = samples.filter((s) => Array.isArray(s[4]));
  if (gs.length) {
    // Its changes matter (braking, bumps), not the 1 g of gravity: the
    // scale spans the recorded range.
    const mag = (s) => Math.hypot(s[4][0], s[4][1], s[4][2]);
    const gmin = Math.min(...gs.map(mag));
    const gmax = Math.max(...gs.map(mag));
    const range = Math.max(gmax - gmin, 0.05);
    const g = svg('polyline', {
      points: gs.map((s) => `${S.speedX(s[0]).toFixed(1)},${(110 - ((mag(s) - gmin) / range) * 95).toFixed(1)}`).join(' '),
    });
    g.classList.add('g');
    chart.append(g);
    chart.append(svg('text', { x: 392, y: 18, 'font-size': 10, 'text-anchor': 'end', fill: '#6a1b9a' },
      `|g| ${gmin.toFixed(2)}–${(gmin + range).toFixed(2)}`));
  }
  const cursor = svg('line', { x1: 30, x2: 30, y1: 5, y2: 115, stroke: '#d32f2f' });
  cursor.id = 'speed-cursor';
  chart.append(cursor);
}

function sampleAt(t) {
  const s = S.track;
  if (!s || !s.length) return null;
  let lo = 0;
  let hi = s.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (s[mid][0] <= t) lo = mid;
    else hi = mid - 1;
  }
  return s[lo];
}

function speedAt(t) {
  const x = sampleAt(t);
  return x && x[3] != null ? `Speed: ${Math.round(x[3])} km/h` : '';
}

function moveMarker(t) {
  const x = sampleAt(t);
  const pos = $('map-pos');
  if (x && pos && S.project && x[1] != null) {
    const [px, py] = S.project(x[1], x[2]);
    pos.setAttribute('cx', px.toFixed(1));
    pos.setAttribute('cy', py.toFixed(1));
  }
  const cur = $('speed-cursor');
  if (cur && S.speedX) {
    const cx = Math.max(30, Math.min(390, S.speedX(t)));
    cur.setAttribute('x1', cx);
    cur.setAttribute('x2', cx);
  }
}

// ---- export -----------------------------------------------------------------

async function runExport() {
  const out = $('export-result');
  const from = parseUtc($('export-from').value);
  const to = parseUtc($('export-to').value);
  const cameras = S.cams.filter((c) => c.exportBox.checked).map((c) => c.id);
  out.replaceChildren();
  delete out.dataset.ok;
  if (Number.isNaN(from) || Number.isNaN(to) || to <= from || !cameras.length) {
    out.append(el('p', 'error', 'Choose a window (From < To, UTC) and at least one camera.'));
    return;
  }
  out.append(el('p', null, 'Exporting…'));
  const r = await fetch('api/export', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ from, to, cameras }),
  });
  const body = await r.json().catch(() => ({ ok: false, outputs: [] }));
  out.replaceChildren();
  out.append(el('p', body.ok ? null : 'error', body.ok
    ? `Exported to ${body.dir}: each output has its manifest, frame table and report (check with cctv verify).`
    : `Export failed${body.dir ? ` (${body.dir})` : ''}.`));
  for (const o of body.outputs || []) {
    const a = el('a', null, o.name);
    a.href = o.url;
    a.target = '_blank';
    a.dataset.name = o.name;
    out.append(a);
  }
  out.dataset.ok = String(!!body.ok);
}

// ---- start ------------------------------------------------------------------

async function start() {
  const r = await fetch('api/case');
  const c = await r.json();
  S.cams = c.cameras;
  let lo = Infinity;
  let hi = -Infinity;
  for (const cam of S.cams) {
    for (const sp of cam.spans) {
      lo = Math.min(lo, sp.from);
      hi = Math.max(hi, sp.to);
    }
  }
  const margin = Math.max(1000, (hi - lo) * 0.02);
  S.full = [lo - margin, hi + margin];
  S.view = S.full.slice();
  const off = c.clock_offset_s;
  $('summary').textContent = `${S.cams.length} camera${S.cams.length === 1 ? '' : 's'}, ` +
    `${c.files} file${c.files === 1 ? '' : 's'}` +
    (c.skipped.length ? `, ${c.skipped.length} unreadable` : '') +
    (off ? ` · times corrected: the recorder's clock was ${Math.abs(off)} s ${off > 0 ? 'ahead' : 'behind'}` : '');
  if (off) $('time-kind').textContent = 'UTC, corrected';
  buildRows();
  setupTimeline();
  $('export-run').addEventListener('click', runExport);
  render();
  setInterval(tick, 250);
  document.body.dataset.ready = 'true';
}

start();
