// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// The flowprobe dashboard: reads the daemon's JSON API every few seconds
// and fills the overview or one host's page (#host/IP). Charts by Chart.js,
// served by the daemon itself.
'use strict';

const REFRESH_MS = 5000;
const token = new URLSearchParams(location.search).get('token');
const charts = {};

// The fleet dashboard (flowprobe dashboard --store): a router filter.
let fleet = false;
function routerArg(path) {
  const r = document.getElementById('router').value;
  return fleet && r ? `${path}${path.includes('?') ? '&' : '?'}router=${encodeURIComponent(r)}` : path;
}

function showRouters(list) {
  const sel = document.getElementById('router');
  const have = [...sel.options].map(o => o.value);
  for (const r of list || []) if (!have.includes(r)) sel.append(el('option', { value: r }, r));
  document.getElementById('router-filter').hidden = false;
}

function api(path) {
  path = routerArg(path);
  const url = token ? `${path}${path.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}` : path;
  return fetch(url, { cache: 'no-store' }).then(r => {
    if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
    return r.json();
  });
}

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return e;
}

const fmt = new Intl.NumberFormat('en');
function num(v) { return fmt.format(v || 0); }
function bytes(v) {
  const u = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  v = v || 0;
  while (v >= 1000 && i < u.length - 1) { v /= 1000; i++; }
  return `${v.toFixed(i ? 1 : 0)} ${u[i]}`;
}
function hhmmss(ms) { return new Date(ms).toISOString().slice(11, 19); }
function hostLink(addr) { return el('a', { href: `#host/${addr}`, class: 'host' }, addr); }

// Rows: [[cell, ...], ...]; a cell is text, a Node, or {v, n: true} for numbers.
function fill(table, head, rows, empty) {
  table.replaceChildren();
  const tr = el('tr');
  head.forEach(h => tr.append(el('th', h.startsWith('#') ? { class: 'n' } : {}, h.replace(/^#/, ''))));
  table.append(el('thead', {}, tr));
  const body = el('tbody');
  if (!rows.length) body.append(el('tr', {}, el('td', { colspan: head.length, class: 'muted' }, empty || 'none yet')));
  for (const r of rows) {
    const row = el('tr');
    r.forEach((c, i) => row.append(el('td', head[i].startsWith('#') ? { class: 'n' } : {}, c)));
    body.append(row);
  }
  table.append(body);
}

function chart(id, config) {
  if (charts[id]) {
    charts[id].data = config.data;
    charts[id].update('none');
    return;
  }
  charts[id] = new Chart(document.getElementById(id), config);
}

function timeAxis(title) {
  return { type: 'linear', title: { display: true, text: title },
           ticks: { callback: v => hhmmss(v), maxTicksLimit: 8 } };
}

function showHealth(s) {
  const d = s.datapath, m = s.daemon;
  const items = [
    ['packets seen', num(d.packets)], ['bytes seen', bytes(d.bytes)],
    ['flows exported', num(m.flows_exported)], ['flows in cache', num(m.flows_in_cache)],
    ['packets uncounted', num(d.uncounted_packets), d.uncounted_packets ? 'bad' : ''],
    ['table fill', `${(100 * s.table_fill).toFixed(1)} %`, s.table_fill > 0.8 ? 'warn' : ''],
    ['export errors', num(m.export_errors), m.export_errors ? 'bad' : ''],
    ['events lost', num(d.events_lost), d.events_lost ? 'bad' : ''],
    ['resets judged', num(m.resets_decided)], ['forged resets', num(m.resets_forged), m.resets_forged ? 'warn' : ''],
    ['P2P alarms', num(m.p2p_alarms)], ['local hosts', num(s.hosts)],
  ];
  document.getElementById('health-list').replaceChildren(...items.map(([k, v, c]) =>
    el('div', {}, el('dt', {}, k), el('dd', c ? { class: c } : {}, v))));
}

function hostRows(list, key, format) {
  return list.map(h => [hostLink(h.addr), format(h[key]), h.p2p_score ? String(h.p2p_score) : '']);
}

function showHosts(h) {
  if (h.fleet) { fleet = true; showRouters(h.routers); }
  fill(document.getElementById('top-flows'), ['host', '#connections', '#P2P score'], hostRows(h.by_flows, 'flows', num));
  fill(document.getElementById('top-peers'), ['host', '#peers', '#P2P score'], hostRows(h.by_peers, 'peers', num));
  fill(document.getElementById('top-bytes'), ['host', '#bytes', '#P2P score'], hostRows(h.by_bytes, 'bytes', bytes));
  fill(document.getElementById('bittorrent'), ['host', '#score', '#peers', '#BitTorrent flows', 'why'],
       h.bittorrent.map(b => [hostLink(b.addr), String(b.score), num(b.peers), num(b.bt_flows), b.reasons.join('; ')]),
       'no host behaves like a BitTorrent client this period');
}

function resetRow(e) {
  return [e.time ? e.time.slice(11, 19) : '', `${e.src}:${e.sport} > ${e.dst}:${e.dport}`,
          el('span', { class: `verdict-${e.verdict}` }, e.verdict), (e.signals || []).join(', '),
          e.bittorrent ? 'BitTorrent' : ''];
}

function showResets(ev) {
  const list = ev.events.filter(e => e.verdict && e.verdict !== 'genuine');
  fill(document.getElementById('resets'), ['time', 'connection', 'verdict', 'signals', 'app'],
       list.slice(0, 30).map(resetRow), 'no forged or suspect reset seen');
}

function showCurve(c) {
  const byIface = {};
  for (const s of c.samples) (byIface[s.interface] ||= []).push({ x: s.active_flows, y: 100 * s.utilisation });
  chart('curve-chart', {
    type: 'scatter',
    data: { datasets: Object.entries(byIface).map(([name, pts]) => ({ label: name, data: pts, pointRadius: 2 })) },
    options: { maintainAspectRatio: false, animation: false,
               scales: { x: { title: { display: true, text: 'active flows N' } },
                         y: { title: { display: true, text: 'utilisation ρ (%)' }, min: 0 } } },
  });
  const k = c.knee;
  document.getElementById('knee').textContent = !c.samples.length
    ? 'no samples: run with --sample or --capacity to measure the curve'
    : k ? `knee: ${k.status || ''} N* ${k.n_star ?? '?'} flows, ρ* ${k.rho_star != null ? (100 * k.rho_star).toFixed(0) + ' %' : '?'}`
        : `${c.samples.length} samples, no knee yet`;
}

async function refreshOverview() {
  const [stats, hosts, resets, curve] = await Promise.all([
    api('/api/stats'), api('/api/hosts'), api('/api/events?type=reset'), api('/api/curve')]);
  showHealth(stats);
  showHosts(hosts);
  showResets(resets);
  showCurve(curve);
}

function showHostPage(h) {
  document.getElementById('host-stored').hidden = !!h.fleet;
  document.getElementById('host-addr').textContent = h.addr;
  const sum = document.getElementById('host-summary');
  if (!h.known) {
    sum.textContent = h.local ? 'No traffic from this host in the history.'
      : 'Not a local address (--local): only customers have pages.';
    ['host-ports', 'host-peers', 'host-protocols', 'host-events', 'host-flows'].forEach(id =>
      document.getElementById(id).replaceChildren());
    document.getElementById('host-p2p').textContent = '';
    return;
  }
  const routers = document.getElementById('host-routers');
  routers.hidden = !h.fleet;
  if (h.fleet) {
    fleet = true;
    fill(routers, ['router', '#connections', '#distinct peers', '#bytes'],
         (h.routers || []).map(r => [r.router, num(r.flows), num(r.peers), bytes(r.bytes)]));
  }
  sum.textContent = `Now (last ${h.window_s} s): ${num(h.now.flows)} connections to ${num(h.now.peers)} peers, ${bytes(h.now.bytes)}. ` +
    `Over the history: ${num(h.history.flows)} connections, ${bytes(h.history.bytes)}, ${num(h.resets)} resets (${num(h.forged_resets)} forged or suspect).`;
  chart('host-chart', {
    type: 'line',
    data: { datasets: [
      { label: 'connections', data: h.series.map(p => ({ x: p.t, y: p.flows })), stepped: true },
      { label: 'distinct peers', data: h.series.map(p => ({ x: p.t, y: p.peers })), stepped: true },
      { label: 'resets', data: h.series.map(p => ({ x: p.t, y: p.resets })), stepped: true },
    ] },
    options: { maintainAspectRatio: false, animation: false,
               scales: { x: timeAxis(`time (UTC), ${h.bucket_s} s per point`), y: { min: 0 } } },
  });
  const proto = { 6: 'tcp', 17: 'udp', 1: 'icmp', 58: 'icmpv6' };
  fill(document.getElementById('host-ports'), ['protocol', '#port', '#flows'],
       h.ports.sort((a, b) => b.flows - a.flows).map(p => [proto[p.proto] || String(p.proto), String(p.port), num(p.flows)]));
  fill(document.getElementById('host-peers'), ['peer', '#flows', '#bytes'],
       h.peers.sort((a, b) => b.flows - a.flows).map(p => [p.addr, num(p.flows), bytes(p.bytes)]));
  fill(document.getElementById('host-protocols'), ['protocol', '#flows', '#bytes'],
       Object.entries(h.protocols).map(([k, v]) => [k, num(v.flows), bytes(v.bytes)]));
  const p2p = document.getElementById('host-p2p');
  p2p.textContent = h.p2p ? `P2P score ${h.p2p.score}${h.p2p.alarmed ? ' (alarm raised)' : ''}: ${h.p2p.reasons.join('; ') || 'no signs'}`
                          : 'no P2P score this period';
  fill(document.getElementById('host-events'), ['time', 'type', 'what'],
       h.events.slice(0, 30).map(e => [e.time ? e.time.slice(11, 19) : '', e.type,
         e.type === 'reset' ? `${e.src}:${e.sport} > ${e.dst}:${e.dport} ${e.verdict} ${(e.signals || []).join(',')}`
           : e.type === 'bittorrent' ? `${e.kind || ''} ${e.src}:${e.sport} > ${e.dst}:${e.dport}`
           : e.type === 'p2p_host' ? `score ${e.score}` : e.verdict || '']));
  fill(document.getElementById('host-live'), ['since', 'last', 'flow', '#packets', '#bytes', 'app'],
       (h.live || []).slice(0, 30).map(f => [String(f.first || '').slice(11, 19), String(f.last || '').slice(11, 19),
                                            `${f.proto} ${f.src}:${f.sport} > ${f.dst}:${f.dport}`,
                                            num(f.packets), bytes(f.bytes), f.app || '']),
       'no flow active now');
  fill(document.getElementById('host-flows'), ['end', 'flow', '#packets', '#bytes', 'app'],
       h.flows.slice(0, 30).map(f => [String(f.last || '').slice(11, 19), `${f.proto} ${f.src}:${f.sport} > ${f.dst}:${f.dport}`,
                                     num(f.packets), bytes(f.bytes), f.app || '']));
}

// The stored history (--state-dir): any range of the file, and two periods
// side by side. A probe without it answers 404: the section says so.
function showStored(host, r) {
  document.getElementById('range-summary').textContent =
    `${r.from.slice(0, 16)} to ${r.to.slice(0, 16)} UTC: ${num(r.totals.flows)} connections to ${num(r.totals.peers)} distinct peers, ` +
    `${bytes(r.totals.bytes_out)} out, ${bytes(r.totals.bytes_in)} in, ${num(r.totals.bt_flows)} BitTorrent, ${num(r.totals.resets)} resets; ` +
    `${r.alarms.length} P2P alarm(s).`;
  chart('range-chart', {
    type: 'line',
    data: { datasets: [
      { label: 'connections', data: r.series.map(p => ({ x: p.t, y: p.flows })), stepped: true },
      { label: 'distinct peers', data: r.series.map(p => ({ x: p.t, y: p.peers })), stepped: true },
      { label: 'Mbit/s', data: r.series.map(p => ({ x: p.t, y: 8 * (p.bytes_in + p.bytes_out) / r.bucket_s / 1e6 })),
        stepped: true, yAxisID: 'rate' },
    ] },
    options: { maintainAspectRatio: false, animation: false,
               scales: { x: { type: 'linear', title: { display: true, text: `time (UTC), ${r.bucket_s / 60} min per point` },
                              ticks: { callback: v => new Date(v).toISOString().slice(5, 16).replace('T', ' '), maxTicksLimit: 8 } },
                         y: { min: 0 }, rate: { position: 'right', min: 0, grid: { drawOnChartArea: false } } } },
  });
}

async function refreshStored(host) {
  const range = document.getElementById('range').value;
  try {
    showStored(host, await api(`/api/hosts/${encodeURIComponent(host)}?from=${encodeURIComponent(range)}`));
  } catch (e) {
    document.getElementById('range-summary').textContent = e.message.includes('404')
      ? 'No stored history: the probe runs without --state-dir (or with --no-store).' : e.message;
  }
}

function bits(bps) {
  const u = ['bit/s', 'kbit/s', 'Mbit/s', 'Gbit/s'];
  let i = 0;
  bps = bps || 0;
  while (bps >= 1000 && i < u.length - 1) { bps /= 1000; i++; }
  return `${bps.toFixed(i ? 1 : 0)} ${u[i]}`;
}

function ratio(v) { return v == null ? '' : `× ${v.toFixed(2)}`; }

async function compare(host) {
  const b = document.getElementById('before').value.trim(), a = document.getElementById('after').value.trim();
  const table = document.getElementById('compare');
  try {
    const c = await api(`/api/compare?host=${encodeURIComponent(host)}&before=${encodeURIComponent(b)}&after=${encodeURIComponent(a)}`);
    const rows = [
      ['connections', num(c.before.flows), num(c.after.flows), ratio(c.change.flows)],
      ['distinct peers', num(c.before.peers), num(c.after.peers), ratio(c.change.peers)],
      ['throughput', bits(c.before.throughput_bps), bits(c.after.throughput_bps), ratio(c.change.throughput_bps)],
      ['BitTorrent flows', num(c.before.bt_flows), num(c.after.bt_flows), ''],
      ['resets', num(c.before.resets), num(c.after.resets), ''],
    ];
    fill(table, ['', `#before (${c.before.from.slice(0, 16)} to ${c.before.to.slice(0, 16)})`,
                 `#after (${c.after.from.slice(0, 16)} to ${c.after.to.slice(0, 16)})`, '#change'], rows);
  } catch (e) {
    fill(table, ['comparison'], [], e.message);
  }
}

function currentHost() {
  const m = location.hash.match(/^#host\/(.+)$/);
  return m ? decodeURIComponent(m[1]) : null;
}

async function refresh() {
  const host = currentHost();
  document.getElementById('overview').hidden = !!host;
  document.getElementById('host-page').hidden = !host;
  try {
    if (host) {
      const page = await api(`/api/hosts/${encodeURIComponent(host)}`);
      showHostPage(page);
      if (!page.fleet) await refreshStored(host);
    } else {
      await refreshOverview();
    }
    document.getElementById('updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (e) {
    document.getElementById('updated').textContent = `cannot reach the probe: ${e.message}`;
  }
}

document.getElementById('search').addEventListener('submit', ev => {
  ev.preventDefault();
  const ip = document.getElementById('ip').value.trim();
  location.hash = ip ? `#host/${ip}` : '';
});
document.getElementById('range').addEventListener('change', () => currentHost() && refreshStored(currentHost()));
document.getElementById('compare-form').addEventListener('submit', ev => {
  ev.preventDefault();
  if (currentHost()) compare(currentHost());
});
document.getElementById('router').addEventListener('change', refresh);
window.addEventListener('hashchange', refresh);
refresh();
setInterval(refresh, REFRESH_MS);
