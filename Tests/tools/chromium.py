"""What the browser checks share: headless Chromium from Debian (chromium, chromium-driver) driven by selenium, and
the ok/FAIL lines they print."""
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.service import Service

failures = []


def check(ok, what):
    print(("ok: " if ok else "FAIL: ") + what)
    if not ok:
        failures.append(what)


def browser(*extra_arguments):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage") + extra_arguments:
        options.add_argument(argument)
    # An alert stays open for the checks to find, instead of being dismissed with an error on the next command.
    options.set_capability("unhandledPromptBehavior", "ignore")
    # Debian's driver, not one Selenium Manager would download.
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def alert_open(driver):
    """Whether an alert was open; dismisses every one (each run script may open its own)."""
    seen = False
    while True:
        try:
            driver.switch_to.alert.dismiss()
            seen = True
        except NoAlertPresentException:
            return seen
