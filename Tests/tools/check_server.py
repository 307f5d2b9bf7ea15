#!/usr/bin/env python3
"""Opens xentest-server's pages in headless Chromium (Debian's chromium and chromium-driver, driven by selenium) and
checks what a TestDay coordinator would see: the release matrix, a cell's link to the case's steps and evidence, a
case's history, and that no text from an upload became markup or ran.

Usage: check_server.py BASE_URL EXPECTATIONS_JSON SCREENSHOT_DIR
EXPECTATIONS_JSON: {"release": the matrix's release, "hosts": [host labels, one column each],
                    "cases": [case ids that must be rows], "labels": {case id: label text its row shows},
                    "cell": case id whose first cell is clicked, "payload": text that must show literally on
                    "hostile": a case page path holding the payload (optional)}
First proves that the checks can see a script run, on a page of its own; then checks the server's pages. Prints a
line per check ("ok: ..." or "FAIL: ..."); exits 1 when any check fails. Screenshots go to SCREENSHOT_DIR.
"""
import json
import os
import sys
import tempfile
import urllib.parse

from selenium.webdriver.common.by import By

from chromium import alert_open, browser, check, failures


def script_ran(driver):
    return alert_open(driver) or driver.execute_script("return document.body.hasAttribute('data-ran')")


def injected(driver):
    """Elements that only a payload would make."""
    return driver.execute_script(
        "return [...document.querySelectorAll('script, img, iframe, object, #injected')].map(e => e.localName)")


def main(base, expectations_path, screenshots):
    with open(expectations_path) as f:
        expected = json.load(f)
    os.makedirs(screenshots, exist_ok=True)
    driver = browser("--window-size=1600,1000")
    try:
        payload = expected.get("payload")
        if payload:
            with tempfile.TemporaryDirectory() as scratch:
                control = os.path.join(scratch, "control.html")
                with open(control, "w") as f:
                    f.write("<!DOCTYPE html><title>control</title><body>" + payload
                            + "<img src=x onerror=\"document.body.setAttribute('data-ran','')\"></body>")
                driver.get("file://" + control)
                check(script_ran(driver), "control page: the checks see a script run")
                check(len(injected(driver)) > 0, "control page: the checks see injected elements")

        release = expected["release"]
        driver.get(base + "/releases/" + urllib.parse.quote(release, safe=""))
        check(not script_ran(driver), "matrix: no script ran")
        check(not injected(driver), f"matrix: no injected element {injected(driver)}")
        heading = driver.find_element(By.TAG_NAME, "h1").text
        check(release in heading, f"matrix: the heading names the release ({heading!r})")
        columns = driver.find_elements(By.CSS_SELECTOR, "#matrix thead tr:first-child th.host")
        check(len(columns) == len(expected["hosts"]),
              f"matrix: {len(columns)} host columns, expected {len(expected['hosts'])}")
        header = driver.find_element(By.CSS_SELECTOR, "#matrix thead").text
        for host in expected["hosts"]:
            check(host in header, f"matrix: a column heads {host!r}")
        for case in expected["cases"]:
            rows = driver.find_elements(By.ID, "case-" + case)
            check(len(rows) == 1, f"matrix: a row for {case}")
            if rows:
                cells = rows[0].find_elements(By.CSS_SELECTOR, "td.cell")
                check(len(cells) == len(expected["hosts"]), f"matrix: {case} has {len(cells)} cells")
        for case, label in sorted(expected.get("labels", {}).items()):
            row = driver.find_element(By.ID, "case-" + case).text
            check(label in row, f"matrix: {case} is labelled {label!r} (row: {row!r})")
        driver.save_screenshot(os.path.join(screenshots, "matrix.png"))
        print("screenshot: " + os.path.join(screenshots, "matrix.png"))

        # A cell links to the case's steps and evidence in that run.
        cell = driver.find_element(By.CSS_SELECTOR, f"#case-{expected['cell']} td.cell a")
        cell.click()
        check("/cases/" + expected["cell"] in driver.current_url, f"cell link: went to {driver.current_url}")
        check(expected["cell"] in driver.find_element(By.TAG_NAME, "h1").text, "case page: the heading names the case")
        steps = driver.find_elements(By.CSS_SELECTOR, "#steps details")
        check(len(steps) > 0, f"case page: {len(steps)} steps folded in <details>")
        if steps:
            steps[0].find_element(By.TAG_NAME, "summary").click()
            check(steps[0].get_attribute("open") is not None, "case page: a click opens a step's evidence")
        driver.save_screenshot(os.path.join(screenshots, "case.png"))

        # The case on every host.
        driver.find_element(By.PARTIAL_LINK_TEXT, "This case on every host").click()
        rows = driver.find_elements(By.CSS_SELECTOR, "#history tbody tr")
        check(len(rows) >= 1, f"case history: {len(rows)} rows")

        if expected.get("hostile"):
            driver.get(base + expected["hostile"])
            check(not script_ran(driver), "hostile case page: no script ran")
            check(not injected(driver), f"hostile case page: no injected element {injected(driver)}")
            for details in driver.find_elements(By.TAG_NAME, "details"):
                details.find_element(By.TAG_NAME, "summary").click()
            body = driver.find_element(By.TAG_NAME, "body").text
            check(payload in body, "hostile case page: the payload shows as text: " + payload)
            check(not script_ran(driver) and not injected(driver), "hostile case page: still inert after opening")
            driver.save_screenshot(os.path.join(screenshots, "hostile.png"))
    finally:
        driver.quit()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3]))
