#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""The fleet dashboard (`flowprobe dashboard --store ...`) in a real
browser, as dashboard.py does for one probe. Run by
tests/integration/test_fleet_clickhouse.py inside the router namespace
where the fleet dashboard serves on loopback.

    fleet.py URL BT_HOST OUT_DIR

The customer in the top list, the router selector with both routers,
one router chosen (the list follows), the customer's page with a row per
router; no console error, no failed request. One JSON object on stdout.
"""

import os
import sys

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dashboard import full_screenshot, run, text, wait_for  # noqa: E402


def look(driver, url, bt_host, out_dir, seen):
    driver.get(url)
    seen["wait_top"] = wait_for(driver, """
      return [...document.querySelectorAll('#top-peers a.host')]
        .some(a => a.textContent === arguments[0]);""", bt_host)
    seen["top_peers"] = text(driver, "#top-peers")
    seen["routers"] = driver.execute_script(
        "return [...document.querySelectorAll('#router option')].map(o => o.value)")
    seen["filter_shown"] = driver.execute_script(
        "return !document.getElementById('router-filter').hidden")
    seen["bittorrent"] = text(driver, "#bittorrent")
    full_screenshot(driver, os.path.join(out_dir, "fleet.png"))
    # One router: the customer's peers there are its share.
    Select(driver.find_element(By.ID, "router")).select_by_value("router1")
    seen["wait_router1"] = wait_for(driver, """
      const rows = [...document.querySelectorAll('#top-peers tbody tr')];
      return rows.some(r => r.cells[0].textContent === arguments[0] &&
                            Number(r.cells[1].textContent.replace(/,/g, '')) <= 110);""",
                                    bt_host)
    seen["top_peers_router1"] = text(driver, "#top-peers")
    Select(driver.find_element(By.ID, "router")).select_by_value("")
    box = driver.find_element(By.ID, "ip")
    box.clear()
    box.send_keys(bt_host)
    driver.find_element(By.CSS_SELECTOR, "#search button").click()
    seen["wait_host"] = wait_for(driver, """
      return document.getElementById('host-addr').textContent === arguments[0] &&
        document.querySelectorAll('#host-routers tbody tr').length === 2;""", bt_host)
    seen["host_routers"] = text(driver, "#host-routers")
    seen["stored_hidden"] = driver.execute_script(
        "return document.getElementById('host-stored').hidden")
    full_screenshot(driver, os.path.join(out_dir, "fleet-host.png"))


if __name__ == "__main__":
    sys.exit(run(look))
