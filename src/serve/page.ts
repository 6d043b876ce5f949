/**
 * The page `alocc serve` shows at /: drop, choose or draw a picture and see the verdict, the score against the
 * threshold, the picture as the network sees it beside R's reconstruction, and its anomaly map (where it is novel:
 * the overlay POST /score?map=1 returns, in the run's fixed colour scale, with how many cells pass the cell threshold). Self-contained (no CDN, no build
 * step): it works on a machine with no internet, as the service does.
 */
/** HTML-escapes text put into the page (a run name is checked by checkRunName, but the page need not rely on it). */
const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The page for the run named `run` (its name only: the server's folders are no business of its clients). */
export const pageHtml = (run: string): string => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>alocc: is this picture novel?</title>
<style>
  body { font: 15px/1.4 system-ui, sans-serif; margin: 2rem auto; max-width: 52rem; padding: 0 1rem; color: #222; }
  h1 { font-size: 1.4rem; margin-bottom: .2rem; }
  #model { color: #666; margin-bottom: 1rem; }
  .row { display: flex; gap: 1.5rem; flex-wrap: wrap; align-items: flex-start; }
  #drop { border: 2px dashed #888; border-radius: 8px; width: 16rem; height: 11rem; display: flex; align-items: center;
          justify-content: center; text-align: center; padding: 1rem; box-sizing: border-box; cursor: pointer; }
  #drop.over { background: #eef5ff; border-color: #36c; }
  canvas { border: 1px solid #888; border-radius: 4px; touch-action: none; cursor: crosshair; }
  figure { margin: 0; text-align: center; }
  figure img { width: 8rem; height: 8rem; image-rendering: pixelated; border: 1px solid #ccc; background: #fafafa; object-fit: contain; }
  /* The overlay carries its own caption (verdict and score) below the picture: drawn at its size, not squeezed. */
  #overlay { width: auto; height: auto; max-width: 16rem; image-rendering: auto; }
  #map-figure figcaption { max-width: 16rem; }
  #verdict { font-size: 1.6rem; font-weight: bold; }
  #verdict.novel { color: #b00; } #verdict.normal { color: #070; }
  #bar { position: relative; height: .8rem; width: 100%; max-width: 26rem; background: #eee; border-radius: 4px; margin: .4rem 0; }
  #fill { position: absolute; left: 0; top: 0; bottom: 0; background: #36c; border-radius: 4px; }
  #mark { position: absolute; top: -.2rem; bottom: -.2rem; width: 2px; background: #000; }
  #error { color: #b00; white-space: pre-wrap; }
  button { font: inherit; padding: .3rem .8rem; }
</style>
</head>
<body>
<h1>Is this picture novel?</h1>
<div id="model">${escapeHtml(run)}: loading the model…</div>
<div class="row">
  <div>
    <label id="drop" for="file">Drop a picture here, or click to choose one</label>
    <input id="file" type="file" accept="image/*" hidden>
  </div>
  <div>
    <canvas id="pad" width="224" height="224" aria-label="drawing pad"></canvas><br>
    <button id="score-drawing" type="button">Score the drawing</button> <button id="clear" type="button">Clear</button>
  </div>
</div>
<section id="result" hidden>
  <p id="verdict"></p>
  <div id="bar"><div id="fill"></div><div id="mark" title="threshold"></div></div>
  <p><span id="score-name"></span> <b id="novelty"></b> against the threshold <b id="threshold"></b> <span id="file-name"></span></p>
  <div class="row">
    <figure><img id="original" alt="your picture"><figcaption>your picture</figcaption></figure>
    <figure><img id="input" alt="as the network sees it"><figcaption>as the network sees it</figcaption></figure>
    <figure><img id="reconstruction" alt="R's reconstruction"><figcaption>R's reconstruction</figcaption></figure>
    <figure id="map-figure" hidden><img id="overlay" alt="where it is novel: the anomaly map over your picture"><figcaption id="map-caption"></figcaption></figure>
  </div>
</section>
<p id="error"></p>
<script>
(() => {
  const $ = (id) => document.getElementById(id);
  fetch('/model').then((r) => r.json()).then((m) => {
    $('model').textContent = m.run + ', epoch ' + m.epoch + ': ' + m.preprocessing.size + '×' + m.preprocessing.size +
      (m.preprocessing.channels === 3 ? ' colour' : ' grey') + ', score ' + m.score + ', threshold ' + m.threshold.toPrecision(4);
  }, () => { $('model').textContent = 'the model could not be read'; });

  async function score(blob, name) {
    $('error').textContent = '';
    $('original').src = URL.createObjectURL(blob);
    const res = await fetch('/score?reconstruction=1&map=1', {
      method: 'POST', body: blob,
      headers: { 'content-type': blob.type || 'application/octet-stream', 'x-filename': encodeURIComponent(name) },
    });
    const body = await res.json().catch(() => ({ error: 'HTTP ' + res.status }));
    if (!res.ok) { $('result').hidden = true; $('error').textContent = body.error; return; }
    $('verdict').textContent = body.verdict === 'novel' ? 'Novel' : 'Normal';
    $('verdict').className = body.verdict;
    $('score-name').textContent = body.score + ' score';
    $('novelty').textContent = body.novelty.toPrecision(4);
    $('threshold').textContent = body.threshold.toPrecision(4);
    $('file-name').textContent = '(' + decodeURIComponent(body.file) + ')';
    const top = Math.max(body.novelty, body.threshold) * 1.25 || 1;
    $('fill').style.width = (100 * Math.max(0, body.novelty) / top) + '%';
    $('mark').style.left = (100 * body.threshold / top) + '%';
    $('input').src = body.input;
    $('reconstruction').src = body.reconstruction;
    // The map: the overlay, and in words how many cells pass the run's cell threshold (the outlined ones).
    const map = body.map;
    $('map-figure').hidden = !map;
    if (map) {
      const cells = map.cells.flat();
      const hot = cells.filter((v) => v >= map.cellThreshold).length;
      $('overlay').src = map.overlay;
      $('map-caption').textContent = 'where it is novel: ' + hot + ' of ' + cells.length + ' cells at or above the cell threshold ' +
        map.cellThreshold.toPrecision(4) + (hot ? ' (outlined)' : '') + '; one colour scale for every picture';
    }
    $('result').hidden = false;
  }
  const take = (file) => { if (file) score(file, file.name).catch((e) => { $('error').textContent = String(e); }); };

  $('file').addEventListener('change', (e) => take(e.target.files[0]));
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => { e.preventDefault(); drop.classList.remove('over'); take(e.dataTransfer.files[0]); });

  // Dark ink on white paper, as people draw; the run's own rule inverts it if its pictures are light on dark.
  const pad = $('pad');
  const ctx = pad.getContext('2d');
  const clear = () => { ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, pad.width, pad.height); };
  clear();
  ctx.lineWidth = 18; ctx.lineCap = 'round'; ctx.lineJoin = 'round'; ctx.strokeStyle = '#000';
  let drawing = false;
  const at = (e) => { const r = pad.getBoundingClientRect(); return [e.clientX - r.left, e.clientY - r.top]; };
  pad.addEventListener('pointerdown', (e) => { drawing = true; ctx.beginPath(); ctx.moveTo(...at(e)); pad.setPointerCapture(e.pointerId); });
  pad.addEventListener('pointermove', (e) => { if (drawing) { ctx.lineTo(...at(e)); ctx.stroke(); } });
  pad.addEventListener('pointerup', () => { drawing = false; });
  $('clear').addEventListener('click', clear);
  $('score-drawing').addEventListener('click', () => pad.toBlob((b) => take(new File([b], 'drawing.png', { type: 'image/png' })), 'image/png'));
})();
</script>
</body>
</html>
`;
