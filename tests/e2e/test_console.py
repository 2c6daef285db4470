"""The web console in a real browser (Debian's headless Chromium, driven by Selenium) against
`python -m local`: signing in, the sent-messages log, a mass message from preview to done, settings,
signatures and the balance; and a screenshot of each main page checked against a stored reference.

Set UPDATE_CONSOLE_SCREENSHOTS=1 to store new references (after a deliberate change of the pages).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageChops, ImageStat
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

from cli.money import format_micros
from tests.e2e.conftest import DEMO_KEY, ROOT, LocalService

pytestmark = pytest.mark.e2e

VIEWPORT = (1280, 800)
REFERENCES = Path(__file__).with_name("console_screens")
SHOTS = ROOT / ".local" / "console-screenshots"  # the latest run's full screenshots, to look at
THUMBNAIL = (128, 80)
# Mean grey-level difference (0 to 1) from the reference thumbnail. Runs of one page differ by under
# 0.01 (the rows' data and times); two different pages differ by 0.025 or more.
TOLERANCE = 0.02
ACCENT = (31, 95, 139)  # the header bar's colour in console.css
BACKDROP, BACKDROP_ALPHA = (20, 30, 40), 0.45  # a modal dialog's backdrop over it


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not chromedriver:
        pytest.fail("Debian's chromium and chromium-driver are needed: run `make browser`")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in (
        "--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--hide-scrollbars",
        "--force-device-scale-factor=1", "--lang=en-US", "--font-render-hinting=none",
        f"--window-size={VIEWPORT[0]},{VIEWPORT[1] + 100}",
    ):  # fmt: skip
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(chromedriver), options=options)
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": VIEWPORT[0], "height": VIEWPORT[1], "deviceScaleFactor": 1, "mobile": False},
    )
    driver.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": "America/Toronto"})
    yield driver
    driver.quit()


def until(driver: WebDriver, condition: Callable[[WebDriver], Any], seconds: float = 10) -> Any:
    try:
        waiting = WebDriverWait(
            driver, seconds, poll_frequency=0.05, ignored_exceptions=[StaleElementReferenceException]
        )
        return waiting.until(condition)
    except TimeoutException:
        pytest.fail(
            f"the console never got there; it shows:\n{driver.find_element(By.TAG_NAME, 'body').text}"
        )


def find(driver: WebDriver, selector: str) -> WebElement:
    return driver.find_element(By.CSS_SELECTOR, selector)


def open_page(driver: WebDriver, service: LocalService, page: str) -> None:
    driver.get(f"{service.url}/console#/{page}")
    until(driver, lambda d: d.execute_script("return document.body.dataset.ready") == "true")
    until(driver, lambda d: d.execute_script("return [document.body.dataset.page, document.body.dataset.loading]")
          == [page, "false"])  # fmt: skip


def rows(driver: WebDriver, table: str) -> list[WebElement]:
    return driver.find_elements(By.CSS_SELECTOR, f"{table} tbody tr")


def cells(driver: WebDriver, table: str) -> list[list[str]]:
    """The table's body as text, read at once (the page may redraw rows between two reads)."""
    script = (
        "return [...document.querySelectorAll(arguments[0])].map(r => [...r.cells].map(c => c.innerText))"
    )
    found: list[list[str]] = driver.execute_script(script, f"{table} tbody tr")
    return found


def column(driver: WebDriver, table: str, index: int) -> set[str]:
    return {row[index] for row in cells(driver, table)}


def fill(element: WebElement, text: str) -> None:
    element.clear()
    element.send_keys(text)


def toast(driver: WebDriver, expected: str) -> None:
    """Wait for the toast to say ``expected`` (a regular expression)."""
    until(
        driver, lambda d: find(d, "#toast").is_displayed() and re.fullmatch(expected, find(d, "#toast").text)
    )


def screenshot_check(driver: WebDriver, name: str, modal: bool = False) -> None:
    """A real render: the viewport's size, the stylesheet's colours, text everywhere; and like its reference."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    driver.execute_script("document.getElementById('toast').hidden = true")  # an earlier action's note
    driver.save_screenshot(str(path))
    with Image.open(path) as loaded:
        image = loaded.convert("RGB")
    assert image.size == VIEWPORT, path
    header = ACCENT
    if modal:
        blend = zip(ACCENT, BACKDROP, strict=True)
        header = tuple(round(a * (1 - BACKDROP_ALPHA) + b * BACKDROP_ALPHA) for a, b in blend)
    assert max(abs(a - b) for a, b in zip(image.getpixel((4, 4)), header, strict=True)) <= 3, "no stylesheet"
    grey = image.convert("L")
    assert ImageStat.Stat(grey).stddev[0] > 20, f"{path} is nearly blank"
    assert len(image.getcolors(maxcolors=1 << 16) or range(1 << 16)) > 100, f"{path} has no text to speak of"
    thumbnail = grey.resize(THUMBNAIL, Image.Resampling.BOX)
    reference = REFERENCES / f"{name}.png"
    if os.environ.get("UPDATE_CONSOLE_SCREENSHOTS") == "1":
        REFERENCES.mkdir(exist_ok=True)
        thumbnail.save(reference, optimize=True)
    assert reference.exists(), f"no reference for {name}: run with UPDATE_CONSOLE_SCREENSHOTS=1"
    with Image.open(reference) as stored:
        difference = ImageStat.Stat(ImageChops.difference(thumbnail, stored.convert("L"))).mean[0] / 255
    assert difference <= TOLERANCE, f"{path} looks unlike {reference} ({difference:.3f} > {TOLERANCE})"


def test_a_refused_key_stays_out_and_the_demo_key_signs_in(browser: WebDriver, service: LocalService):
    open_page(browser, service, "sign-in")
    fill(find(browser, "#api-key"), "sms_not_a_key")
    find(browser, "#sign-in-form button").click()
    until(browser, lambda d: find(d, "#sign-in-error").text == "That API key was refused.")
    assert not find(browser, "#nav").is_displayed()

    fill(find(browser, "#api-key"), DEMO_KEY)
    find(browser, "#sign-in-form button").click()
    until(browser, lambda d: d.execute_script("return document.body.dataset.page") == "messages")
    assert find(browser, "#tenant-name").text == "Demo Fiber ISP"
    assert browser.execute_script("return sessionStorage.getItem('outboundSms.apiKey')") == DEMO_KEY


def test_the_sent_messages_table_filters_and_shows_a_body_with_its_history(
    browser: WebDriver, service: LocalService
):
    open_page(browser, service, "messages")
    # The local runtime's demo sent messages at start: delivered ones and one the carrier blocked.
    until(browser, lambda d: len(cells(d, "#messages-table")) >= 8)
    assert {"Delivered", "Failed"} <= column(browser, "#messages-table", 4)
    headers = [th.text for th in browser.find_elements(By.CSS_SELECTOR, "#messages-table th")]
    assert headers == ["Recipient name / contact type", "Related entity", "Phone number", "Body", "Status",
                       "Reject reason", "Created"]  # fmt: skip
    screenshot_check(browser, "messages")

    Select(find(browser, "#message-filters [name=status]")).select_by_visible_text("Failed")
    find(browser, "#message-filters button[type=submit]").click()
    until(browser, lambda d: column(d, "#messages-table", 4) == {"Failed"})
    assert column(browser, "#messages-table", 5) == {"blocked"}
    find(browser, "#messages-table tbody tr button").click()
    until(browser, lambda d: find(d, "#message-dialog").get_attribute("open") is not None)
    assert find(browser, "#message-body").text.endswith("Reply STOP to unsubscribe.")
    history = [item.text for item in browser.find_elements(By.CSS_SELECTOR, "#message-history li")]
    assert "Pending" in history[0]
    assert "Failed blocked" in history[-1]
    find(browser, "#message-dialog form button").click()

    find(browser, "#export-csv").click()
    toast(browser, r"Exported (1 row|[\d,]+ rows)\.")


def test_a_mass_message_is_previewed_confirmed_and_followed_until_done(
    browser: WebDriver, service: LocalService
):
    open_page(browser, service, "mass")
    form = "#mass-form"
    Select(find(browser, f"{form} [name=saved_message]")).select_by_value("unplanned_outage_no_eta")
    assert not find(browser, "#outage-end-field").is_displayed()  # this message has no end
    browser.execute_script(f"document.querySelector('{form} [name=outage_start]').value = '2026-12-01T02:30'")
    fill(find(browser, f"{form} [name=contact_types]"), "Billing, Technical")
    find(browser, f"{form} button[type=submit]").click()
    until(browser, lambda d: find(d, "#confirm-dialog").get_attribute("open") is not None)

    # The dialog states the recipients and the charge, in dollars, and whether the balance covers it
    job_id = find(browser, "#confirm-dialog").get_attribute("data-job-id")
    job = service.call("GET", f"/v1/mass-messages/{job_id}").body
    preview = job["preview"]
    assert preview["recipients"] >= 2
    assert (
        find(browser, "#confirm-summary").text
        == f"This message will be sent to {preview['recipients']} customers."
    )
    assert find(browser, "#confirm-charge").text.startswith(
        f"Charges will occur: {format_micros(preview['total_micros'])} "
    )
    assert find(browser, "#confirm-balance").text == (
        f"Your balance of {format_micros(preview['balance_micros'])} covers it."
    )
    # The browser's local time went out with its offset; the text shows it in the tenant's time zone
    assert find(browser, "#confirm-body").text.startswith(
        "Demo Fiber ISP: we are aware of a service outage since Dec 1, 2026 2:30 AM EST"
    )
    screenshot_check(browser, "mass-confirm", modal=True)

    find(browser, "#confirm-send").click()
    until(browser, lambda d: find(d, "#mass-progress").get_attribute("data-state") == "done", seconds=30)
    assert find(browser, "#progress-text").text.startswith("Done (queued)")
    assert service.call("GET", f"/v1/mass-messages/{job_id}").body["status"] == "queued"

    # AND its messages are one click away
    listed = next(row for row in rows(browser, "#jobs-table") if row.get_attribute("data-id") == job_id)
    listed.find_element(By.CSS_SELECTOR, "button").click()
    until(browser, lambda d: d.execute_script("return document.body.dataset.page") == "messages")
    until(browser, lambda d: len(cells(d, "#messages-table")) == preview["recipients"])


def test_settings_turn_quiet_hours_on_and_off_and_signatures_are_created_and_deleted(
    browser: WebDriver, service: LocalService
):
    open_page(browser, service, "settings")
    until(browser, lambda d: len(cells(d, "#signatures-table")) >= 2)
    assert find(browser, "#settings-form [name=sms_enabled]").is_selected()
    screenshot_check(browser, "settings")

    form = "#settings-form"
    try:
        find(browser, f"{form} [name=quiet_hours_on]").click()
        browser.execute_script(f"document.querySelector('{form} [name=quiet_start]').value = '21:30'")
        browser.execute_script(f"document.querySelector('{form} [name=quiet_end]').value = '07:45'")
        find(browser, f"{form} button[type=submit]").click()
        toast(browser, r"Settings saved\.")
        assert service.call("GET", "/v1/settings").body["quiet_hours"] == {"start": "21:30", "end": "07:45"}
    finally:
        service.call("PATCH", "/v1/settings", {"quiet_hours": None})  # other tests' triggers must not wait

    fill(find(browser, "#signature-form [name=name]"), "Console check")
    Select(find(browser, "#signature-form [name=department_id]")).select_by_visible_text("Billing")
    Select(find(browser, "#signature-form [name=text]")).select_by_value("Reply STOP to unsubscribe.")
    find(browser, "#signature-form button[type=submit]").click()
    until(browser, lambda d: any(r.text.startswith("Console check") for r in rows(d, "#signatures-table")))
    created = next(r for r in rows(browser, "#signatures-table") if r.text.startswith("Console check"))
    created.find_element(By.CSS_SELECTOR, "button").click()
    WebDriverWait(browser, 5).until(expected_conditions.alert_is_present())
    browser.switch_to.alert.accept()
    until(
        browser, lambda d: not any(r.text.startswith("Console check") for r in rows(d, "#signatures-table"))
    )


def test_the_balance_its_ledger_auto_buy_and_a_purchase(browser: WebDriver, service: LocalService):
    before = service.call("GET", "/v1/balance").body
    open_page(browser, service, "balance")
    until(browser, lambda d: len(cells(d, "#ledger-table")) > 0)
    assert find(browser, "#balance-amount").text == format_micros(before["balance_micros"])
    screenshot_check(browser, "balance")

    try:
        fill(find(browser, "#auto-buy-form [name=threshold]"), "1.5")
        fill(find(browser, "#auto-buy-form [name=amount]"), "$10")
        find(browser, "#auto-buy-form button[type=submit]").click()
        toast(browser, r"Auto-buy saved\.")
        assert service.call("GET", "/v1/balance").body["auto_buy"] == {
            "enabled": False, "threshold_micros": 1_500_000, "amount_micros": 10_000_000,
        }  # fmt: skip
    finally:
        service.call("PUT", "/v1/balance/auto-buy", before["auto_buy"])

    fill(find(browser, "#purchase-form [name=amount]"), "2.25")
    find(browser, "#purchase-form button[type=submit]").click()
    toast(browser, r"Bought \$2\.25\.")
    until(
        browser, lambda d: rows(d, "#ledger-table")[0].find_elements(By.TAG_NAME, "td")[1].text == "Purchase"
    )
    assert rows(browser, "#ledger-table")[0].find_elements(By.TAG_NAME, "td")[2].text == "$2.25"
    assert service.call("GET", "/v1/balance").body["balance_micros"] >= before["balance_micros"] + 2_250_000


def test_money_is_formatted_and_read_with_integers_only(browser: WebDriver, service: LocalService):
    open_page(browser, service, "balance")
    shown = browser.execute_script(
        "return [0, 1, 8500, 25000000, -25500, 1234567890120].map(window.smsConsole.formatMicros)"
    )
    assert shown == ["$0.00", "$0.000001", "$0.0085", "$25.00", "-$0.0255", "$1,234,567.89012"]
    read = browser.execute_script(
        "return ['12.5', '$0.000001', '0.1', '999999.999999'].map(window.smsConsole.parseDollars)"
    )
    assert read == [12_500_000, 1, 100_000, 999_999_999_999]
    refused = browser.execute_script(
        "try { window.smsConsole.parseDollars('1.0000001'); return null } catch (e) { return e.message }"
    )
    assert "not an amount" in refused

    # Signing out forgets the key
    find(browser, "#sign-out").click()
    until(browser, lambda d: find(d, "#page-sign-in").is_displayed())
    assert browser.execute_script("return sessionStorage.getItem('outboundSms.apiKey')") is None
