#!/usr/bin/env python3
"""Opens xentest's report.html from disk in headless Chromium (Debian's chromium and chromium-driver, driven by
selenium) and checks what a person would see in it, and that no text of the result became markup or ran.

Usage: check_html.py REPORT_HTML EXPECTATIONS_JSON
EXPECTATIONS_JSON: {"payload": text that must show literally, "tags": [the elements the reporter writes],
                    "counts": {status: n, "total": n}, "row": {"id": element id, "texts": [...]},
                    "details": element id of a failed case's article, "folded": text only an opened <details> shows}
First proves that the checks can see a script run, on a page of its own that runs one; then checks the report.
Prints a line per check ("ok: ..." or "FAIL: ..."); exits 1 when any check fails.
"""
import json
import os
import sys
import tempfile

from selenium.webdriver.common.by import By

from chromium import alert_open, browser, check, failures


def script_ran(driver):
    return alert_open(driver) or driver.execute_script("return document.body.hasAttribute('data-ran')")


def foreign(driver, tags):
    """The elements in the page that the reporter does not write, and any element with the payload's id."""
    names = driver.execute_script("return [...document.querySelectorAll('*')].map(e => e.localName)")
    return sorted(set(names) - set(tags)) + (["#injected"] if driver.find_elements(By.ID, "injected") else [])


def main(report, expectations_path):
    with open(expectations_path) as f:
        expected = json.load(f)
    driver = browser()
    try:
        # The control: a page whose markup does run. If the checks cannot see this, they prove nothing below.
        with tempfile.TemporaryDirectory() as scratch:
            control = os.path.join(scratch, "control.html")
            with open(control, "w") as f:
                f.write("<!DOCTYPE html><title>control</title><body>" + expected["payload"]
                        + "<img src=x onerror=\"document.body.setAttribute('data-ran','')\"></body>")
            driver.get("file://" + control)
            check(script_ran(driver), "control page: the checks see a script run")
            seen = foreign(driver, expected["tags"])
            check({"script", "img", "b", "#injected"} <= set(seen), f"control page: the checks see markup {seen}")

        driver.get("file://" + os.path.abspath(report))
        check(not script_ran(driver), "report: no script ran (no alert, no handler)")
        found = foreign(driver, expected["tags"])
        check(not found, f"report: no element made from the result's text {found}")
        body = driver.find_element(By.TAG_NAME, "body").text
        check(expected["payload"] in body, "report: the payload shows as text: " + expected["payload"])
        for status, count in sorted(expected["counts"].items()):
            cell = driver.find_element(By.CSS_SELECTOR, f"#count-{status} td.count").text
            check(cell == str(count), f"report: count of {status} is {cell}, expected {count}")
        row = driver.find_element(By.ID, expected["row"]["id"]).text
        for text in expected["row"]["texts"]:
            check(text in row, f"report: row {expected['row']['id']} shows {text!r}")

        article = driver.find_element(By.ID, expected["details"])
        folded = article.find_elements(By.TAG_NAME, "details")
        check(len(folded) > 0, f"report: {expected['details']} has {len(folded)} <details>")
        hidden = expected["folded"] not in article.text
        check(hidden, "report: the evidence is folded before a click")
        opened = False
        for details in folded:
            details.find_element(By.TAG_NAME, "summary").click()
            opened = opened or details.get_attribute("open") is not None
        check(opened, "report: a click on a <summary> opens its <details>")
        shown = article.text
        check(expected["folded"] in shown, "report: the opened evidence shows " + repr(expected["folded"]))
        check(expected["payload"] in shown, "report: the opened evidence shows the payload as text")
        check(not script_ran(driver), "report: still no script ran after opening")
        check(not foreign(driver, expected["tags"]), "report: still no element made from the text after opening")
    finally:
        driver.quit()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
