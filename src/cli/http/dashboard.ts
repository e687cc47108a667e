/**
 * The dashboard page served at `/` by --http-addr: hand-written HTML, CSS
 * and JavaScript (no framework, no build step, nothing from elsewhere),
 * charts drawn as SVG. The script polls the JSON endpoints every 2 s.
 */

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>discv4 bootnode</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/dashboard.css">
<script src="/dashboard.js" defer></script>
</head>
<body>
<header>
  <h1>discv4 bootnode</h1>
  <span id="version"></span>
  <span id="uptime"></span>
  <span id="conn" class="conn">connecting...</span>
</header>
<main>
<section class="card wide" id="identity">
  <h2>Identity</h2>
  <dl>
    <dt>node id</dt><dd><code id="id"></code><button data-copy="id">copy</button></dd>
    <dt>enode</dt><dd><code id="enode"></code><button data-copy="enode">copy</button></dd>
    <dt>enr</dt><dd><code id="enr"></code><button data-copy="enr">copy</button></dd>
    <dt>listen</dt><dd id="listen"></dd>
    <dt>record seq</dt><dd id="seq"></dd>
    <dt>fork id</dt><dd id="fork"></dd>
    <dt>crypto threads</dt><dd id="threads"></dd>
    <dt>discv5</dt><dd id="v5"></dd>
  </dl>
</section>
<section class="card wide counters" id="counters"></section>
<section class="card">
  <h2>Packets per second <small>(last hour, 5 s samples)</small></h2>
  <div class="legend"><span class="k in">in <b id="in-rate">-</b>/s</span> <span class="k out">out <b id="out-rate">-</b>/s</span></div>
  <svg id="chart-packets" class="chart" viewBox="0 0 600 180" preserveAspectRatio="none" role="img" aria-label="packets per second"></svg>
</section>
<section class="card">
  <h2>Drops per second by reason <small>(last hour, 5 s samples)</small></h2>
  <div class="legend" id="drops-legend"></div>
  <svg id="chart-drops" class="chart" viewBox="0 0 600 180" preserveAspectRatio="none" role="img" aria-label="drops per second"></svg>
</section>
<section class="card">
  <h2>Table fill by bucket <small>(log distance)</small></h2>
  <svg id="chart-buckets" class="chart" viewBox="0 0 600 180" role="img" aria-label="nodes per bucket"></svg>
</section>
<section class="card">
  <h2>Nodes by fork id</h2>
  <div id="forks"></div>
</section>
<section class="card">
  <h2>Top sources by refused datagrams</h2>
  <table><thead><tr><th>source</th><th>refused</th><th>last reason</th><th>last</th></tr></thead><tbody id="refused"></tbody></table>
</section>
<section class="card">
  <h2>Bans</h2>
  <table><thead><tr><th>target</th><th>reason</th><th>until</th></tr></thead><tbody id="bans"></tbody></table>
</section>
<section class="card wide">
  <h2>Nodes <small id="nodes-count"></small></h2>
  <div class="filters">
    <input id="search" type="search" placeholder="search id, ip:port or fork id" autocomplete="off">
    <select id="source"><option value="all">table + known</option><option value="table">table</option><option value="known">known</option></select>
    <select id="forkf"><option value="">any fork</option><option value="ours">ours</option><option value="other">other</option><option value="unknown">unknown</option></select>
    <button id="prev">&lsaquo; prev</button><button id="next">next &rsaquo;</button>
    <a id="csv" href="/nodes?format=csv">CSV</a>
  </div>
  <table class="nodes"><thead><tr><th>id</th><th>endpoint</th><th>source</th><th>bucket</th><th>fork id</th><th>fork</th><th>enr seq</th><th>first seen</th><th>last pong</th></tr></thead><tbody id="node-rows"></tbody></table>
</section>
</main>
</body>
</html>
`;

export const FAVICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><circle cx="8" cy="8" r="7" fill="#4fc3f7"/><circle cx="8" cy="8" r="3" fill="#0f1419"/></svg>
`;

export const DASHBOARD_CSS = `
:root { --bg: #0f1419; --card: #182029; --fg: #d8dee6; --dim: #8a96a3; --in: #4fc3f7; --out: #ffb74d; --ok: #81c784; --bad: #e57373; --line: #26313c; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, sans-serif; background: var(--bg); color: var(--fg); }
header { display: flex; gap: 16px; align-items: baseline; padding: 12px 20px; border-bottom: 1px solid var(--line); }
header h1 { font-size: 18px; margin: 0; }
header span { color: var(--dim); }
.conn.ok { color: var(--ok); } .conn.bad { color: var(--bad); }
main { display: grid; grid-template-columns: repeat(auto-fit, minmax(460px, 1fr)); gap: 14px; padding: 14px 20px; }
.card { background: var(--card); border-radius: 6px; padding: 12px 14px; min-width: 0; }
.card.wide { grid-column: 1 / -1; }
h2 { font-size: 14px; margin: 0 0 8px; color: var(--dim); font-weight: 600; }
h2 small { font-weight: 400; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 14px; margin: 0; }
dt { color: var(--dim); }
dd { margin: 0; display: flex; gap: 8px; align-items: center; min-width: 0; }
code { font: 12px ui-monospace, monospace; overflow-wrap: anywhere; }
button, select, input { background: #0f1419; color: var(--fg); border: 1px solid var(--line); border-radius: 4px; padding: 3px 8px; font: inherit; }
button { cursor: pointer; } button.done { color: var(--ok); }
.counters { display: flex; flex-wrap: wrap; gap: 10px 28px; }
.counter b { display: block; font-size: 20px; }
.counter span { color: var(--dim); font-size: 12px; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 14px; font-size: 12px; margin-bottom: 4px; color: var(--dim); }
.legend b { color: var(--fg); }
.k::before { content: ""; display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; background: var(--c, var(--dim)); }
.k.in { --c: var(--in); } .k.out { --c: var(--out); }
.chart { width: 100%; height: 180px; display: block; }
.chart .grid { stroke: var(--line); stroke-width: 1; }
.chart text { fill: var(--dim); font-size: 11px; }
.chart path { fill: none; stroke-width: 1.6; vector-effect: non-scaling-stroke; }
.chart .bar { fill: var(--in); }
table { width: 100%; border-collapse: collapse; font-size: 12px; }
th { text-align: left; color: var(--dim); font-weight: 500; border-bottom: 1px solid var(--line); padding: 3px 6px; }
td { padding: 3px 6px; border-bottom: 1px solid var(--line); white-space: nowrap; }
td.id { font-family: ui-monospace, monospace; }
.ours { color: var(--ok); } .other { color: var(--bad); } .unknown { color: var(--dim); }
.filters { display: flex; gap: 8px; margin-bottom: 8px; flex-wrap: wrap; align-items: center; }
.filters input { flex: 1; min-width: 220px; }
.filters a { color: var(--in); }
.forkrow { display: grid; grid-template-columns: 210px 1fr 60px; gap: 8px; align-items: center; font-size: 12px; margin: 3px 0; }
.forkrow .barbg { background: #0f1419; height: 12px; border-radius: 2px; }
.forkrow .barfg { height: 12px; border-radius: 2px; background: var(--dim); }
.forkrow.ours .barfg { background: var(--ok); } .forkrow.other .barfg { background: var(--bad); }
.empty { color: var(--dim); font-style: italic; }
`;

// No backquotes or dollar-brace in the script below: it lives in a template literal.
export const DASHBOARD_JS = `'use strict';
(function () {
  var PALETTE = ['#e57373', '#ba68c8', '#64b5f6', '#4db6ac', '#fff176', '#ff8a65', '#a1887f', '#90a4ae', '#f06292', '#aed581'];
  var SVGNS = 'http://www.w3.org/2000/svg';
  var page = { offset: 0, limit: 50 };
  var lastStatus = null;

  function $(id) { return document.getElementById(id); }
  function text(id, v) { $(id).textContent = v; }
  function el(tag, attrs, txt) {
    var e = tag.indexOf('svg:') === 0 ? document.createElementNS(SVGNS, tag.slice(4)) : document.createElement(tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (txt !== undefined) e.textContent = txt;
    return e;
  }
  function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); return e; }
  function fmt(n) { return n >= 100 ? String(Math.round(n)) : n >= 10 ? n.toFixed(1) : n.toFixed(2); }
  function ago(ms) {
    if (ms === null || ms === undefined) return '-';
    var s = Math.max(0, Math.round((Date.now() - ms) / 1000));
    return s < 60 ? s + ' s ago' : s < 3600 ? Math.round(s / 60) + ' min ago' : Math.round(s / 3600) + ' h ago';
  }
  function dur(sec) {
    var d = Math.floor(sec / 86400), h = Math.floor(sec % 86400 / 3600), m = Math.floor(sec % 3600 / 60);
    return (d ? d + 'd ' : '') + (d || h ? h + 'h ' : '') + m + 'm ' + (sec % 60) + 's';
  }
  function getJSON(path) {
    return fetch(path, { cache: 'no-store' }).then(function (r) {
      if (!r.ok) throw new Error(path + ': HTTP ' + r.status);
      return r.json();
    });
  }

  // A line chart: series = [{ name, color, values }], times = x values.
  function lineChart(svg, times, series, intervalMs) {
    clear(svg);
    var W = 600, H = 180, L = 40, B = 16;
    var max = 1;
    series.forEach(function (s) { s.values.forEach(function (v) { if (v > max) max = v; }); });
    max = niceMax(max);
    for (var i = 0; i <= 4; i++) {
      var y = H - B - (H - B - 6) * i / 4;
      svg.appendChild(el('svg:line', { x1: L, x2: W, y1: y, y2: y, class: 'grid' }));
      svg.appendChild(el('svg:text', { x: 2, y: y + 4 }, fmt(max * i / 4)));
    }
    // The last hour, or since the node started when that is shorter.
    var t1 = Date.now(), t0 = Math.max(t1 - 3600 * 1000, (times.length ? times[0] : t1) - intervalMs);
    var span = Math.round((t1 - t0) / 1000);
    svg.appendChild(el('svg:text', { x: L, y: H - 2 }, span >= 120 ? '-' + Math.round(span / 60) + ' min' : '-' + span + ' s'));
    svg.appendChild(el('svg:text', { x: W - 30, y: H - 2 }, 'now'));
    series.forEach(function (s) {
      var d = '';
      for (var j = 0; j < times.length; j++) {
        var x = L + (W - L) * Math.max(0, times[j] - t0) / (t1 - t0);
        var yy = H - B - (H - B - 6) * s.values[j] / max;
        d += (d ? ' L' : 'M') + x.toFixed(1) + ',' + yy.toFixed(1);
      }
      if (times.length === 1) d += ' L' + (W).toFixed(1) + ',' + (H - B - (H - B - 6) * s.values[0] / max).toFixed(1);
      var p = el('svg:path', { d: d, stroke: s.color, 'data-series': s.name });
      svg.appendChild(p);
    });
  }
  function niceMax(v) {
    var p = Math.pow(10, Math.floor(Math.log10(v)));
    var m = [1, 2, 5, 10].find(function (k) { return k * p >= v; });
    return m * p;
  }

  function renderStatus(s) {
    lastStatus = s;
    text('version', 'v' + s.version);
    text('uptime', 'up ' + dur(s.uptimeSec));
    text('id', s.id);
    text('enode', s.enode);
    text('enr', s.enr);
    text('listen', s.listen.ip + ':' + s.listen.udpPort + '/udp');
    text('seq', s.recordSeq);
    text('fork', s.fork ? s.fork.id + ' (' + (s.fork.source || 'fixed') + ', filter ' + s.fork.filter + ')' : 'none (not fork-aware)');
    text('threads', String(s.cryptoThreads));
    text('v5', s.v5.on ? 'on, ' + s.v5.tableSize + ' nodes' : 'off');
    var c = clear($('counters'));
    [['table nodes', s.table.size], ['known nodes', s.knownNodes], ['bonded', s.bonds], ['DB nodes', s.db.nodes],
     ['bans', s.bans], ['packets in', s.packets.inTotal], ['packets out', s.packets.outTotal], ['dropped', s.dropsTotal],
     ['pending requests', s.pendingRequests]].forEach(function (kv) {
      var d = el('div', { class: 'counter', 'data-counter': kv[0] });
      d.appendChild(el('b', {}, String(kv[1])));
      d.appendChild(el('span', {}, kv[0]));
      c.appendChild(d);
    });
    // Table fill by bucket.
    var svg = clear($('chart-buckets'));
    var n = s.table.buckets.length, W = 600, H = 180, B = 16, bw = W / n;
    var max = Math.max(1, Math.max.apply(null, s.table.buckets));
    s.table.buckets.forEach(function (v, i) {
      var h = (H - B - 14) * v / max;
      svg.appendChild(el('svg:rect', { class: 'bar', x: i * bw + 2, y: H - B - h, width: bw - 4, height: h, 'data-bucket': i, 'data-count': v }));
      svg.appendChild(el('svg:text', { x: i * bw + bw / 2 - 4, y: H - B - h - 3 }, String(v)));
      svg.appendChild(el('svg:text', { x: i * bw + bw / 2 - 8, y: H - 2 }, String(i === 0 ? '<240' : 239 + i)));
    });
    // Nodes by fork id.
    var f = clear($('forks'));
    var total = s.forks.reduce(function (a, g) { return a + g.nodes; }, 0);
    if (total === 0) f.appendChild(el('div', { class: 'empty' }, 'no nodes yet'));
    s.forks.forEach(function (g) {
      var row = el('div', { class: 'forkrow ' + g.fork, 'data-fork': g.fork });
      row.appendChild(el('span', {}, (g.forkId || 'no eth entry / no record') + ' - ' + g.fork));
      var bg = el('div', { class: 'barbg' });
      var fg = el('div', { class: 'barfg' });
      fg.style.width = (100 * g.nodes / total).toFixed(1) + '%';
      bg.appendChild(fg);
      row.appendChild(bg);
      row.appendChild(el('b', {}, String(g.nodes)));
      f.appendChild(row);
    });
  }

  function renderHistory(h) {
    var n = h.t.length;
    text('in-rate', n ? fmt(h.inPerSec[n - 1]) : '-');
    text('out-rate', n ? fmt(h.outPerSec[n - 1]) : '-');
    lineChart($('chart-packets'), h.t, [
      { name: 'in', color: '#4fc3f7', values: h.inPerSec },
      { name: 'out', color: '#ffb74d', values: h.outPerSec },
    ], h.intervalMs);
    var reasons = Object.keys(h.dropsPerSec).sort();
    var legend = clear($('drops-legend'));
    if (reasons.length === 0) legend.appendChild(el('span', { class: 'empty' }, 'no drops in the last hour'));
    var series = reasons.map(function (r, i) {
      var color = PALETTE[i % PALETTE.length];
      var v = h.dropsPerSec[r];
      var k = el('span', { class: 'k', 'data-reason': r });
      k.style.setProperty('--c', color);
      k.appendChild(document.createTextNode(r + ' '));
      k.appendChild(el('b', {}, fmt(v[v.length - 1] || 0)));
      k.appendChild(document.createTextNode('/s'));
      legend.appendChild(k);
      return { name: r, color: color, values: v };
    });
    lineChart($('chart-drops'), h.t, series, h.intervalMs);
  }

  function renderBans(b) {
    var r = clear($('refused'));
    if (b.topRefused.length === 0) r.appendChild(row(['none refused'], 'empty', 4));
    b.topRefused.forEach(function (x) { r.appendChild(row([x.ip, String(x.count), x.lastReason, ago(Date.parse(x.last))])); });
    var t = clear($('bans'));
    if (b.bans.length === 0) t.appendChild(row(['no bans'], 'empty', 3));
    b.bans.forEach(function (x) { t.appendChild(row([x.kind === 'id' ? x.target.slice(0, 16) + '...' : x.target, x.reason || '-', x.until || 'until lifted'])); });
  }

  function row(cells, cls, span) {
    var tr = el('tr', cls ? { class: cls } : {});
    cells.forEach(function (c) { tr.appendChild(el('td', span ? { colspan: span } : {}, c)); });
    return tr;
  }

  function nodesQuery() {
    var q = [];
    var s = $('search').value.trim();
    if (s) q.push('q=' + encodeURIComponent(s));
    if ($('source').value !== 'all') q.push('source=' + $('source').value);
    if ($('forkf').value) q.push('fork=' + $('forkf').value);
    return q;
  }

  function loadNodes() {
    var q = nodesQuery();
    $('csv').setAttribute('href', '/nodes?' + q.concat(['format=csv', 'limit=1000']).join('&'));
    return getJSON('/nodes?' + q.concat(['offset=' + page.offset, 'limit=' + page.limit]).join('&')).then(function (p) {
      var tb = clear($('node-rows'));
      text('nodes-count', p.total === 0 ? '(none)' : '(' + (p.offset + 1) + '-' + (p.offset + p.nodes.length) + ' of ' + p.total + ')');
      if (p.nodes.length === 0) tb.appendChild(row(['no nodes match'], 'empty', 9));
      p.nodes.forEach(function (n) {
        var tr = el('tr', { 'data-id': n.id });
        var id = el('td', { class: 'id', title: n.id }, n.id.slice(0, 16) + '...');
        tr.appendChild(id);
        tr.appendChild(el('td', {}, (n.ip.indexOf(':') >= 0 ? '[' + n.ip + ']' : n.ip) + ':' + n.udpPort));
        tr.appendChild(el('td', {}, n.source + (n.live ? ' (live)' : '')));
        tr.appendChild(el('td', {}, n.bucket === null ? '-' : String(n.bucket)));
        tr.appendChild(el('td', {}, n.forkId || '-'));
        tr.appendChild(el('td', { class: n.fork }, n.fork));
        tr.appendChild(el('td', {}, n.enrSeq || '-'));
        tr.appendChild(el('td', {}, ago(n.firstSeen)));
        tr.appendChild(el('td', {}, ago(n.lastPong)));
        tb.appendChild(tr);
      });
      $('prev').disabled = p.offset === 0;
      $('next').disabled = p.offset + p.nodes.length >= p.total;
    });
  }

  function refresh() {
    Promise.all([getJSON('/status').then(renderStatus), getJSON('/history').then(renderHistory), getJSON('/bans').then(renderBans), loadNodes()])
      .then(function () { var c = $('conn'); c.textContent = 'live'; c.className = 'conn ok'; })
      .catch(function (e) { var c = $('conn'); c.textContent = 'offline: ' + e.message; c.className = 'conn bad'; });
  }

  document.addEventListener('click', function (ev) {
    var b = ev.target;
    if (!(b instanceof HTMLButtonElement) || !b.dataset.copy) return;
    var v = $(b.dataset.copy).textContent;
    var done = function () { b.textContent = 'copied'; b.className = 'done'; setTimeout(function () { b.textContent = 'copy'; b.className = ''; }, 1500); };
    if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(v).then(done, function () {});
    else {
      var r = document.createRange(); r.selectNodeContents($(b.dataset.copy));
      var sel = window.getSelection(); sel.removeAllRanges(); sel.addRange(r);
      try { document.execCommand('copy'); done(); } catch (e) { /* selected: the operator copies by hand */ }
    }
  });
  var timer;
  $('search').addEventListener('input', function () { clearTimeout(timer); timer = setTimeout(function () { page.offset = 0; loadNodes(); }, 250); });
  $('source').addEventListener('change', function () { page.offset = 0; loadNodes(); });
  $('forkf').addEventListener('change', function () { page.offset = 0; loadNodes(); });
  $('prev').addEventListener('click', function () { page.offset = Math.max(0, page.offset - page.limit); loadNodes(); });
  $('next').addEventListener('click', function () { page.offset += page.limit; loadNodes(); });
  refresh();
  setInterval(refresh, 2000);
})();
`;
