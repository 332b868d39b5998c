#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""The dashboard in a real browser: Debian's headless Chromium driven
through Debian's chromium-driver by python3-selenium (no Node.js). Run by
tests/integration/test_dashboard.py inside the lab's router namespace,
where the probe serves on loopback.

    dashboard.py URL BT_HOST OUT_DIR

Prints one JSON object on stdout: what it saw. The calling test asserts.
Every wait is on a condition on the page (the page refreshes itself every
5 s), bounded by WAIT_S.
"""

import json
import os
import sys

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

WAIT_S = 60

# Console messages and failed requests are read back from the page: the
# Chrome DevTools log ("goog:loggingPrefs") gives console errors, and the
# Resource Timing API with responseStatus names every request's status.
FAILED_REQUESTS_JS = """
return performance.getEntriesByType('resource')
  .filter(e => e.responseStatus === 0 || e.responseStatus >= 400)
  .map(e => `${e.responseStatus} ${e.name}`);
"""


def start_browser():
    opts = webdriver.ChromeOptions()
    opts.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    # root in a network namespace: Chromium's sandbox needs user namespaces
    # it cannot have here; the page is our own. No background networking:
    # this machine has no network beyond the lab.
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu",
              "--disable-dev-shm-usage", "--no-first-run",
              "--disable-background-networking", "--disable-component-update",
              "--disable-sync", "--window-size=1400,1800"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    return webdriver.Chrome(service=service, options=opts)


def wait_for(driver, script, *args, timeout=WAIT_S):
    """Wait until a JavaScript predicate on the page is true; None, or the
    reason it never was."""
    try:
        WebDriverWait(driver, timeout, poll_frequency=0.5).until(
            lambda d: d.execute_script(script, *args))
        return None
    except TimeoutException:
        return f"timed out after {timeout} s waiting for: {script.strip()[:120]}"


def text(driver, selector):
    return driver.find_element(By.CSS_SELECTOR, selector).text


def full_screenshot(driver, path):
    height = driver.execute_script("return document.body.scrollHeight")
    driver.set_window_size(1400, max(1800, height))
    driver.save_screenshot(path)


def chart_points(driver, canvas_id, sum_y=False):
    return driver.execute_script("""
      const c = Chart.getChart(document.getElementById(arguments[0]));
      if (!c) return -1;
      if (arguments[1]) return c.data.datasets[0].data.reduce((s, p) => s + p.y, 0);
      return c.data.datasets.reduce((s, d) => s + d.data.length, 0);
    """, canvas_id, sum_y)


def look(driver, url, bt_host, out_dir, seen):
    driver.get(url)
    seen["title"] = driver.title
    seen["chart_js"] = driver.execute_script("return typeof Chart === 'function'")
    seen["wait_health"] = wait_for(
        driver, "return document.querySelector('#health-list dt') !== null")
    seen["health"] = text(driver, "#health-list")

    seen["wait_bt"] = wait_for(driver, """
      return [...document.querySelectorAll('#top-peers a.host, #bittorrent a.host')]
        .some(a => a.textContent === arguments[0]);""", bt_host)
    in_list = "return [...document.querySelectorAll(arguments[0] + ' a.host')]" \
              ".some(a => a.textContent === arguments[1]);"
    seen["bt_in_top_peers"] = driver.execute_script(in_list, "#top-peers", bt_host)
    seen["bt_in_bittorrent"] = driver.execute_script(in_list, "#bittorrent", bt_host)
    seen["bittorrent_text"] = text(driver, "#bittorrent")

    seen["wait_reset"] = wait_for(
        driver, "return document.querySelector('#resets .verdict-forged') !== null")
    seen["resets_text"] = text(driver, "#resets")
    seen["forged_in_resets"] = bool(
        driver.find_elements(By.CSS_SELECTOR, "#resets .verdict-forged"))
    seen["curve_points"] = chart_points(driver, "curve-chart")
    full_screenshot(driver, os.path.join(out_dir, "dashboard.png"))

    # The support technician types the customer's address.
    box = driver.find_element(By.ID, "ip")
    box.clear()
    box.send_keys(bt_host)
    driver.find_element(By.CSS_SELECTOR, "#search button").click()
    seen["wait_host"] = wait_for(driver, """
      return document.getElementById('host-addr').textContent === arguments[0] &&
        document.querySelectorAll('#host-ports tbody tr td.n').length > 0;""", bt_host)
    seen["host_hash"] = driver.execute_script("return location.hash")
    for key in ("host-addr", "host-summary", "host-ports", "host-p2p"):
        seen[key.replace("-", "_")] = text(driver, "#" + key)
    seen["host_chart_points"] = chart_points(driver, "host-chart", sum_y=True)
    seen["host_live"] = text(driver, "#host-live")

    # The stored history (--state-dir): the range chart, then before/after.
    seen["wait_stored"] = wait_for(driver, """
      return document.getElementById('range-summary').textContent.includes('connections');""")
    seen["range_summary"] = text(driver, "#range-summary")
    seen["range_chart_points"] = chart_points(driver, "range-chart", sum_y=True)
    before = driver.find_element(By.ID, "before")
    before.clear()
    before.send_keys("-2h,-1h")
    after = driver.find_element(By.ID, "after")
    after.clear()
    after.send_keys("-1h,now")
    driver.find_element(By.CSS_SELECTOR, "#compare-form button").click()
    seen["wait_compare"] = wait_for(driver, """
      return document.querySelectorAll('#compare tbody tr').length === 5;""")
    seen["compare_text"] = text(driver, "#compare")
    full_screenshot(driver, os.path.join(out_dir, "dashboard-host.png"))


def collect_errors(driver, seen):
    """What went wrong on the page, also when look() stopped half-way."""
    seen["failed_requests"] = driver.execute_script(FAILED_REQUESTS_JS)
    seen["console_errors"] = [e.get("message", "") for e in driver.get_log("browser")
                              if e.get("level") == "SEVERE"]


def run(look):
    """Runs look(driver, URL, BT_HOST, OUT_DIR, seen) from the command line
    and prints what it saw as one JSON object; exit 1 when it could not
    look to the end. Shared with fleet.py."""
    url, bt_host, out_dir = sys.argv[1:4]
    os.makedirs(out_dir, exist_ok=True)
    seen = {"console_errors": [], "failed_requests": []}
    try:
        driver = start_browser()
    except Exception as e:  # noqa: BLE001 (reported to the caller, who fails)
        print(json.dumps({"fatal": f"cannot start chromium-driver: {e}"}))
        return 1
    try:
        look(driver, url, bt_host, out_dir, seen)
    except Exception as e:  # noqa: BLE001
        seen["fatal"] = f"{type(e).__name__}: {(str(e).splitlines() or [''])[0]}"
    try:
        collect_errors(driver, seen)
    finally:
        driver.quit()
    print(json.dumps(seen))
    return 1 if "fatal" in seen else 0


if __name__ == "__main__":
    sys.exit(run(look))
