// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// The dashboard in a real browser: Debian's headless Chromium driven by
// playwright-core (web/node_modules). Run by tests/integration/
// test_dashboard.py inside the lab's router namespace, where the probe
// serves on loopback.
//
//   node dashboard.cjs URL BT_HOST OUT_DIR
//
// Prints one JSON object on stdout: what it saw. The Python test asserts.
// Every wait is on a condition on the page (the page refreshes itself
// every 5 s), bounded by WAIT_MS.
'use strict';
const path = require('path');
const { chromium } = require(path.join(__dirname, '..', '..', 'web', 'node_modules', 'playwright-core'));

const [url, btHost, outDir] = process.argv.slice(2);
const WAIT_MS = 60000;

async function main() {
  const seen = { console_errors: [], page_errors: [], failed_requests: [] };
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    // root in a network namespace: Chromium's sandbox needs user namespaces
    // it cannot have here; the page is our own.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1800 } });
    page.on('console', m => { if (m.type() === 'error') seen.console_errors.push(m.text()); });
    page.on('pageerror', e => seen.page_errors.push(String(e)));
    page.on('requestfailed', r => seen.failed_requests.push(r.url()));
    page.on('response', r => { if (r.status() >= 400) seen.failed_requests.push(`${r.status()} ${r.url()}`); });

    await page.goto(url, { waitUntil: 'load' });
    seen.title = await page.title();
    seen.chart_js = await page.evaluate(() => typeof Chart === 'function');
    await page.waitForSelector('#health-list dt', { timeout: WAIT_MS });
    seen.health = await page.locator('#health-list').innerText();

    const inTop = async sel => (await page.locator(`${sel} a.host`, { hasText: btHost }).count()) > 0;
    try {
      await page.waitForFunction(h => [...document.querySelectorAll('#top-peers a.host, #bittorrent a.host')]
        .some(a => a.textContent === h), btHost, { timeout: WAIT_MS, polling: 500 });
    } catch (e) { seen.wait_bt = String(e).split('\n')[0]; }
    seen.bt_in_top_peers = await inTop('#top-peers');
    seen.bt_in_bittorrent = await inTop('#bittorrent');
    seen.bittorrent_text = await page.locator('#bittorrent').innerText();

    try {
      await page.waitForFunction(() => document.querySelector('#resets .verdict-forged') !== null,
        null, { timeout: WAIT_MS, polling: 500 });
    } catch (e) { seen.wait_reset = String(e).split('\n')[0]; }
    seen.resets_text = await page.locator('#resets').innerText();
    seen.forged_in_resets = (await page.locator('#resets .verdict-forged').count()) > 0;
    seen.curve_points = await page.evaluate(() => {
      const c = Chart.getChart(document.getElementById('curve-chart'));
      return c ? c.data.datasets.reduce((s, d) => s + d.data.length, 0) : -1;
    });
    await page.screenshot({ path: path.join(outDir, 'dashboard.png'), fullPage: true });

    // The support technician types the customer's address.
    await page.fill('#ip', btHost);
    await page.click('#search button');
    try {
      await page.waitForFunction(h => document.getElementById('host-addr').textContent === h &&
        document.querySelectorAll('#host-ports tbody tr td.n').length > 0, btHost,
        { timeout: WAIT_MS, polling: 250 });
    } catch (e) { seen.wait_host = String(e).split('\n')[0]; }
    seen.host_hash = await page.evaluate(() => location.hash);
    seen.host_addr = await page.locator('#host-addr').innerText();
    seen.host_summary = await page.locator('#host-summary').innerText();
    seen.host_ports = await page.locator('#host-ports').innerText();
    seen.host_p2p = await page.locator('#host-p2p').innerText();
    seen.host_chart_points = await page.evaluate(() => {
      const c = Chart.getChart(document.getElementById('host-chart'));
      return c ? c.data.datasets[0].data.reduce((s, p) => s + p.y, 0) : -1;
    });
    await page.screenshot({ path: path.join(outDir, 'dashboard-host.png'), fullPage: true });
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(seen) + '\n');
}

main().catch(e => { process.stdout.write(JSON.stringify({ fatal: String(e) }) + '\n'); process.exit(1); });
