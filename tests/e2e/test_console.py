"""The web console in a real browser (Debian's headless Chromium, driven by Selenium) against
`python -m local`: signing in, the sent-messages log, a mass message from preview to done, settings,
signatures and the balance; and a screenshot of each main page checked against a stored reference.

Set UPDATE_CONSOLE_SCREENSHOTS=1 to store new references (after a deliberate change of the pages).
"""

from __future__ import annotations

import os
import re
import shutil
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

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
from tests.e2e.conftest import DEMO_KEY, OPERATOR_KEY, ROOT, LocalService, onboard_tenant, post_receiver

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
    options.set_capability("goog:loggingPrefs", {"browser": "SEVERE"})  # the page's errors, for failures
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
        errors = "\n".join(entry["message"] for entry in driver.get_log("browser"))
        pytest.fail(
            f"the console never got there; it shows:\n{driver.find_element(By.TAG_NAME, 'body').text}"
            f"\nits errors:\n{errors}"
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
        find(browser, f"{form} [name=smart_encoding]").click()
        find(browser, f"{form} button[type=submit]").click()
        toast(browser, r"Settings saved\.")
        saved = service.call("GET", "/v1/settings").body
        assert saved["quiet_hours"] == {"start": "21:30", "end": "07:45"}
        assert saved["smart_encoding"] is True
    finally:  # other tests' triggers must not wait, nor be re-encoded
        service.call("PATCH", "/v1/settings", {"quiet_hours": None, "smart_encoding": False})

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


# ---- every tenant and operator screen, each through a real task checked in the API ----


def signed_in(driver: WebDriver, service: LocalService, key: str, page: str) -> None:
    """A fresh page load signed in with ``key`` (a tenant's or the operator's), on ``page``."""
    driver.get(f"{service.url}/console#/{page}")
    driver.execute_script("sessionStorage.setItem('outboundSms.apiKey', arguments[0])", key)
    driver.refresh()
    until(driver, lambda d: d.execute_script("return document.body.dataset.ready") == "true")
    until(driver, lambda d: d.execute_script("return [document.body.dataset.page, document.body.dataset.loading]")
          == [page, "false"])  # fmt: skip


def field_problem(driver: WebDriver, form: str, name: str) -> str:
    """The problem shown beside a form's field (the control is marked invalid and described by it)."""
    control = find(driver, f"{form} [name='{name}']")
    until(driver, lambda d: control.get_attribute("aria-invalid") == "true")
    note = find(driver, f"#{control.get_attribute('aria-describedby')}")
    assert note.is_displayed()
    return note.text


def submit(driver: WebDriver, form: str) -> None:
    find(driver, f"{form} button[type=submit]").click()


def test_a_contact_is_created_edited_with_its_opt_in_and_its_skipped_numbers_explained(
    browser: WebDriver, service: LocalService
):
    # GIVEN the demo account's contacts, found by account
    signed_in(browser, service, DEMO_KEY, "contacts")
    fill(find(browser, "#contact-find [name=entity_id]"), "acct-1001")
    submit(browser, "#contact-find")
    until(browser, lambda d: len(cells(d, "#contacts-table")) == 2)
    ada = next(row for row in cells(browser, "#contacts-table") if row[0].startswith("Ada Lovelace"))
    # the Home number is not SMS-capable and not opted in; the Mobile one will receive
    assert "+14165550124 Home skipped: not SMS-capable (Home), not opted in" in ada[3]
    assert "+14165550123 Mobile will receive SMS" in ada[3]
    until(browser, lambda d: find(d, "#contact-find button[type=submit]").is_enabled())  # the account too
    screenshot_check(browser, "contacts")

    # WHEN a new contact is added with a number the API refuses
    fill(find(browser, "#contact-find [name=entity_id]"), "acct-console")
    find(browser, "#contact-new").click()
    form = "#contact-form"
    fill(find(browser, f"{form} [name=name]"), "Console Person")
    fill(find(browser, f"{form} [name=contact_type]"), "Billing")
    fill(find(browser, f"{form} [name=related_entity_name]"), "Console residence")
    find(browser, "#contact-add-phone").click()
    fill(find(browser, f"{form} [name='phones.0.number']"), "+44 20 7946 0958")
    submit(browser, form)
    # THEN the problem shows beside that number, and nothing was created
    assert field_problem(browser, form, "phones.0.number")
    assert service.call("GET", "/v1/contacts?entity_id=acct-console").body == []

    # WHEN the number is mended and saved, then opted in through the editor
    fill(find(browser, f"{form} [name='phones.0.number']"), "416-555-0191")
    submit(browser, form)
    toast(browser, r"Saved Console Person\.")
    [created] = service.call("GET", "/v1/contacts?entity_id=acct-console").body
    assert created["phones"] == [
        {"number": "+14165550191", "number_type": "Mobile", "sms_capable": True, "sms_opt_in": False}
    ]
    until(browser, lambda d: "skipped: not opted in" in cells(d, "#contacts-table")[0][3])
    rows(browser, "#contacts-table")[0].find_element(By.CSS_SELECTOR, "button").click()
    find(browser, f"{form} [name='phones.0.sms_opt_in']").click()
    submit(browser, form)
    toast(browser, r"Saved Console Person\.")
    until(browser, lambda d: "will receive SMS" in cells(d, "#contacts-table")[0][3])
    assert service.call("GET", f"/v1/contacts/{created['id']}").body["phones"][0]["sms_opt_in"] is True
    # AND an opted-out number says in which scope
    try:
        assert service.call("PUT", "/v1/opt-outs/+14165550191", {"note": "console check"}).status == 201
        submit(browser, "#contact-find")
        until(browser, lambda d: "skipped: opted out in global" in cells(d, "#contacts-table")[0][3])
    finally:
        service.call("DELETE", "/v1/opt-outs/+14165550191")

    # AND the account's filter fields are saved from the same screen
    submit(browser, "#contact-find")
    until(browser, lambda d: find(d, "#account-form").is_displayed())
    fill(find(browser, "#account-form [name=name]"), "Console residence")
    fill(find(browser, "#account-form [name=groups]"), "residential, fiber")
    submit(browser, "#account-form")
    toast(browser, r"Account saved\.")
    assert service.call("GET", "/v1/accounts/acct-console").body["groups"] == ["residential", "fiber"]


def test_companies_departments_and_phone_number_types(browser: WebDriver, service: LocalService):
    signed_in(browser, service, DEMO_KEY, "organization")
    until(browser, lambda d: len(cells(d, "#departments-table")) >= 2)
    screenshot_check(browser, "organization")

    fill(find(browser, "#company-form [name=name]"), "Console Co")
    submit(browser, "#company-form")
    until(browser, lambda d: "Console Co" in column(d, "#companies-table", 0))
    assert "Console Co" in {c["name"] for c in service.call("GET", "/v1/companies").body}

    # A department with an email the API refuses: the problem beside the email, then mended
    form = "#department-form"
    fill(find(browser, f"{form} [name=name]"), "Console care")
    fill(find(browser, f"{form} [name=phone_number]"), "+14165550170")
    browser.execute_script(
        f"document.querySelector('{form} [name=email]').type = 'text'"
    )  # past the browser's check
    fill(find(browser, f"{form} [name=email]"), "care-at-example")
    Select(find(browser, f"{form} [name=company_id]")).select_by_visible_text("Console Co")
    submit(browser, form)
    assert "email" in field_problem(browser, form, "email")
    fill(find(browser, f"{form} [name=email]"), "care@console.example")
    submit(browser, form)
    toast(browser, r"Department added\.")
    listed = {d["name"]: d for d in service.call("GET", "/v1/departments").body}
    assert listed["Console care"]["email"] == "care@console.example"
    until(browser, lambda d: "Console care" in column(d, "#departments-table", 0))

    fill(find(browser, "#phone-type-form [name=name]"), "Pager")
    find(browser, "#phone-type-form [name=sms_capable]").click()
    submit(browser, "#phone-type-form")
    until(browser, lambda d: ["Pager", "SMS-capable"] in [r[:2] for r in cells(d, "#phone-types-table")])

    assert service.call("GET", "/v1/settings").body["phone_number_types"]["Pager"] is True


def test_a_template_is_reviewed_by_the_operator_and_a_calling_list_is_sent_with_its_refused_rows(
    browser: WebDriver, service: LocalService
):
    # GIVEN a template written in the console, pending review
    signed_in(browser, service, DEMO_KEY, "lists")
    form = "#template-form"
    fill(find(browser, f"{form} [name=name]"), "Console visit")
    fill(find(browser, f"{form} [name=text]"), "Hi {{first_name}}, your visit is on {{day}}.")
    until(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#template-variables select")) == 2)
    submit(browser, form)
    toast(browser, r"Template submitted: pending until the operator reviews it\.")
    template = next(t for t in service.call("GET", "/v1/templates").body if t["name"] == "Console visit")
    assert template["variables"] == {"first_name": "text", "day": "text"}

    # WHEN the operator approves it from the review queue
    signed_in(browser, service, OPERATOR_KEY, "reviews")
    until(
        browser,
        lambda d: any(r.get_attribute("data-id") == template["id"] for r in rows(d, "#reviews-table")),
    )
    screenshot_check(browser, "reviews")
    queued = next(r for r in rows(browser, "#reviews-table") if r.get_attribute("data-id") == template["id"])
    fill(queued.find_element(By.CSS_SELECTOR, "input"), "fine")
    queued.find_element(By.CSS_SELECTOR, "button").click()
    toast(browser, r"Console visit approved\.")
    reviewed = service.call("GET", f"/v1/templates/{template['id']}").body
    assert (reviewed["status"], reviewed["review_note"]) == ("approved", "fine")

    # THEN the tenant uploads a CSV for it: the bad row is refused, the rest previewed, sent, followed
    signed_in(browser, service, DEMO_KEY, "lists")
    form = "#list-form"
    fill(find(browser, f"{form} [name=name]"), "Console visits")
    Select(find(browser, f"{form} [name=template_id]")).select_by_visible_text("Console visit")
    csv_text = (
        "phone,first_name,day\n+14165550181,Ann,Monday\nnot a number,Bob,Tuesday\n+14165550182,Cy,Friday\n"
    )
    find(browser, f"{form} [name=csv]").send_keys(csv_text)
    until(
        browser, lambda d: Select(find(d, f"{form} [name='mapping.day']")).first_selected_option.text == "day"
    )
    assert Select(find(browser, f"{form} [name=phone_field]")).first_selected_option.text == "phone"
    submit(browser, form)
    until(browser, lambda d: find(d, "#confirm-dialog").get_attribute("open") is not None)
    assert find(browser, "#confirm-summary").text == "This message will be sent to 2 customers."
    assert find(browser, "#list-errors-count").text == "1 row was refused"
    assert cells(browser, "#list-errors")[0][:2] == ["2", "phone"]
    job_id = find(browser, "#confirm-dialog").get_attribute("data-job-id")
    find(browser, "#confirm-send").click()
    until(browser, lambda d: find(d, "#list-progress").get_attribute("data-state") == "done", seconds=30)
    counts = {
        li.get_attribute("data-status"): li.text
        for li in browser.find_elements(By.CSS_SELECTOR, "#list-progress li")
    }
    assert set(counts) == {"Delivered", "Sent", "Failed", "Insufficient funds", "In Progress", "Pending"}
    job = service.call("GET", f"/v1/calling-lists/{job_id}").body
    assert job["status"] == "queued"
    assert sum(job["progress"].values()) == 2
    screenshot_check(browser, "lists")


def test_replies_the_opt_out_list_with_its_audit_trail_and_the_reply_webhook(
    browser: WebDriver, service: LocalService
):
    # GIVEN a reply from a recipient of the demo's messages
    sent = service.call("POST", "/_local/carrier/inbound", {
        "from": "+14165550125", "to": "+18005550100", "body": "Thanks, see you Tuesday",
    }, key=None)  # fmt: skip
    assert sent.status in (200, 202)
    until(browser, lambda _: any(
        r["body"] == "Thanks, see you Tuesday" for r in service.call("GET", "/v1/replies").body["items"]
    ))  # fmt: skip
    signed_in(browser, service, DEMO_KEY, "inbound")
    reply = next(r for r in cells(browser, "#replies-table") if r[3] == "Thanks, see you Tuesday")
    assert reply[1:3] == ["+14165550125", "+18005550100"]
    assert reply[4] == "reply"

    # WHEN a number is opted out with a note, its audit trail shows it; then it is removed
    number = "+14165550177"
    form = "#opt-out-add-form"
    fill(find(browser, f"{form} [name=phone_number]"), "416 555 0177")
    fill(find(browser, f"{form} [name=note]"), "asked by phone")
    submit(browser, form)
    toast(browser, rf"\{number} is opted out in global\.")
    until(browser, lambda d: number in column(d, "#opt-outs-table", 0))
    until(browser, lambda d: "opted out api, local demo" in find(d, "#trail-list").text)
    assert "asked by phone" in find(browser, "#trail-list").text
    assert service.call("GET", f"/v1/opt-outs/{number}").body["opted_out"] is True
    screenshot_check(browser, "inbound")
    listed = next(r for r in rows(browser, "#opt-outs-table") if r.get_attribute("data-number") == number)
    listed.find_elements(By.CSS_SELECTOR, "button")[1].click()
    WebDriverWait(browser, 5).until(expected_conditions.alert_is_present())
    browser.switch_to.alert.accept()
    until(browser, lambda d: number not in column(d, "#opt-outs-table", 0))
    until(browser, lambda d: "opted back in api, local demo" in find(d, "#trail-list").text)
    assert service.call("GET", f"/v1/opt-outs/{number}").body["opted_out"] is False

    # AND a bad scope is named beside its field
    fill(find(browser, "#opt-out-scope-form [name=scope]"), "nowhere")
    submit(browser, "#opt-out-scope-form")
    assert field_problem(browser, "#opt-out-scope-form", "scope")
    fill(find(browser, "#opt-out-scope-form [name=scope]"), "")

    # AND the reply webhook (under Integrations): refused beside its field, then set with its secret
    # shown once, then removed
    signed_in(browser, service, DEMO_KEY, "integrations")
    try:
        fill(find(browser, "#webhook-form [name=url]"), "ftp://hooks.example.com/sms")
        submit(browser, "#webhook-form")
        assert "https" in field_problem(browser, "#webhook-form", "url")
        fill(find(browser, "#webhook-form [name=url]"), "https://hooks.example.com/sms")
        submit(browser, "#webhook-form")
        until(browser, lambda d: find(d, "#webhook-secret-value").text.startswith("whsec_"))
        assert service.call("GET", "/v1/reply-webhook").body["url"] == "https://hooks.example.com/sms"
        find(browser, "#webhook-delete").click()
        toast(browser, r"Replies are no longer posted\.")
    finally:
        service.call("DELETE", "/v1/reply-webhook")
    assert service.call("GET", "/v1/reply-webhook").status == 404


def test_the_operator_creates_a_tenant_prices_it_issues_a_key_credits_it_and_registers_a_code(
    browser: WebDriver, service: LocalService
):
    # GIVEN the operator key, signed in through the form, lands on the tenants
    browser.get(f"{service.url}/console#/sign-in")
    browser.execute_script("sessionStorage.clear()")
    browser.refresh()
    until(browser, lambda d: d.execute_script("return document.body.dataset.page") == "sign-in")
    fill(find(browser, "#api-key"), OPERATOR_KEY)
    submit(browser, "#sign-in-form")
    until(browser, lambda d: d.execute_script("return document.body.dataset.page") == "tenants")
    assert find(browser, "#tenant-name").text == "Operator"
    visible = [a.text for a in browser.find_elements(By.CSS_SELECTOR, "#nav a") if a.is_displayed()]
    assert visible == ["Tenants", "Template reviews", "Transport codes", "API"]
    until(browser, lambda d: "demo-isp" in d.find_element(By.CSS_SELECTOR, "#tenants-table").text)
    screenshot_check(browser, "tenants")

    # WHEN a tenant is created (a bad price first: the problem beside the price)
    form = "#tenant-create-form"
    fill(find(browser, f"{form} [name=tenant_id]"), "console-co")
    fill(find(browser, f"{form} [name=name]"), "Console Co")
    fill(find(browser, f"{form} [name=price]"), "one cent")
    fill(find(browser, f"{form} [name=sending_numbers]"), "+18005550188")
    submit(browser, form)
    assert "not an amount" in field_problem(browser, form, "price")
    fill(find(browser, f"{form} [name=price]"), "0.01")
    submit(browser, form)
    toast(browser, r"Tenant console-co created .*")
    until(browser, lambda d: find(d, "#tenant-panel").is_displayed())

    # AND re-priced, given a key (shown once) and credited
    fill(find(browser, "#tenant-change-form [name=price]"), "0.0125")
    submit(browser, "#tenant-change-form")
    toast(browser, r"Tenant saved\.")
    tenants = {t["tenant_id"]: t for t in service.call("GET", "/v1/operator/tenants", key=OPERATOR_KEY).body}
    assert tenants["console-co"]["price_per_segment_micros"] == 12_500
    assert tenants["console-co"]["default_sending_number"] == "+18005550188"
    fill(find(browser, "#key-form [name=name]"), "console viewer")
    find(browser, "#key-form input[value='sms:view']").click()
    submit(browser, "#key-form")
    until(browser, lambda d: find(d, "#issued-key").is_displayed())
    issued = find(browser, "#issued-key-value").text
    fill(find(browser, "#credit-form [name=amount]"), "5")
    fill(find(browser, "#credit-form [name=reference]"), "console-opening")
    submit(browser, "#credit-form")
    toast(browser, r"Credited \$5\.00 \(console-opening\)\.")
    # THEN the key works and sees the credit
    assert service.call("GET", "/v1/balance", key=issued).body["balance_micros"] == 5_000_000

    # AND a transport code is registered with its pace, cap and tenants
    signed_in(browser, service, OPERATOR_KEY, "codes")
    form = "#code-form"
    fill(find(browser, f"{form} [name=number]"), "+18005550188")
    fill(find(browser, f"{form} [name=parts_per_second]"), "2")
    fill(find(browser, f"{form} [name=daily_cap_parts]"), "-5")
    submit(browser, form)
    assert field_problem(browser, form, "daily_cap_parts")
    fill(find(browser, f"{form} [name=daily_cap_parts]"), "1000")
    submit(browser, form)
    toast(browser, r"\+18005550188 saved\.")
    code = service.call("GET", "/v1/operator/transport-codes/%2B18005550188", key=OPERATOR_KEY).body
    assert Decimal(str(code["parts_per_second"])) == 2
    assert (code["daily_cap_parts"], code["tenant_ids"]) == (1000, ["console-co"])
    until(browser, lambda d: "+18005550188" in column(d, "#codes-table", 0))


def test_the_api_explorer_beside_the_openapi_document_calls_the_api_with_the_key(
    browser: WebDriver, service: LocalService
):
    # GIVEN the explorer's address, with the tenant's key signed in
    signed_in(browser, service, DEMO_KEY, "messages")
    browser.get(f"{service.url}/v1/docs")
    until(browser, lambda d: d.execute_script("return [document.body.dataset.page, document.body.dataset.loading]")
          == ["api", "false"])  # fmt: skip
    until(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".operation")) > 40)
    assert find(browser, "#explorer-key").get_attribute("value") == DEMO_KEY
    screenshot_check(browser, "api")

    # WHEN an operation is opened and sent
    fill(find(browser, "#explorer-filter"), "GET /v1/settings")
    operation = find(browser, ".operation[data-operation='GET /v1/settings']")
    operation.find_element(By.TAG_NAME, "summary").click()
    operation.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    # THEN the answer is the API's, sent with the key
    until(browser, lambda d: operation.find_element(By.CSS_SELECTOR, ".try-status").text.startswith("200"))
    assert '"name": "Demo Fiber ISP"' in operation.find_element(By.CSS_SELECTOR, ".try-answer").text

    # AND a body built from the schema is sent as typed: a refusal shows the problem document
    fill(find(browser, "#explorer-filter"), "POST /v1/companies")
    post = find(browser, ".operation[data-operation='POST /v1/companies']")
    browser.execute_script("arguments[0].open = true", post)
    until(browser, lambda d: post.find_element(By.TAG_NAME, "textarea").is_displayed())
    assert post.find_element(By.TAG_NAME, "textarea").get_attribute("value") == '{\n  "name": ""\n}'
    post.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    until(browser, lambda d: post.find_element(By.CSS_SELECTOR, ".try-status").text.startswith("422"))
    assert '"field": "body.name"' in post.find_element(By.CSS_SELECTOR, ".try-answer").text


def test_a_phone_width_layout_still_works(browser: WebDriver, service: LocalService):
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True},
    )
    try:
        for page in ("messages", "contacts", "lists", "inbound", "integrations"):
            signed_in(browser, service, DEMO_KEY, page)
            # nothing wider than the screen but the tables, which scroll inside their own box
            width = browser.execute_script("return document.documentElement.scrollWidth")
            assert width <= 390, f"{page} is {width}px wide"
            assert find(browser, f"#page-{page} h1").is_displayed()
            first = find(browser, f"#page-{page} input, #page-{page} select")
            assert first.rect["x"] >= 0
            assert first.rect["x"] + first.rect["width"] <= 390
        # AND the confirmation, with its time to send at, fits the screen too
        signed_in(browser, service, DEMO_KEY, "mass")
        Select(find(browser, "#mass-form [name=saved_message]")).select_by_value("unplanned_outage_no_eta")
        browser.execute_script(
            "document.querySelector('#mass-form [name=outage_start]').value = '2026-12-01T02:30'"
        )
        submit(browser, "#mass-form")
        until(browser, lambda d: find(d, "#confirm-dialog").get_attribute("open") is not None)
        find(browser, "#confirm-form [name=when][value=later]").click()
        for control in ("[name=send_at]", "[name=if_changed]", "#confirm-send"):
            box = find(browser, f"#confirm-form {control}").rect
            assert box["x"] >= 0, control
            assert box["x"] + box["width"] <= 390, control
        find(browser, "#confirm-cancel").click()
        toast(browser, r"Cancelled: nothing was sent\.")
    finally:
        browser.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": VIEWPORT[0], "height": VIEWPORT[1], "deviceScaleFactor": 1, "mobile": False},
        )


# ---- calling lists as files, previews in progress, scheduled sends, integrations, finding contacts ----


def watch_texts(driver: WebDriver, selector: str) -> None:
    """Record every text the element shows from now on (window.seenTexts), however briefly."""
    driver.execute_script(
        "const node = document.querySelector(arguments[0]); window.seenTexts = [];"
        "new MutationObserver(() => window.seenTexts.push(node.textContent))"
        ".observe(node, {childList: true, characterData: true, subtree: true});",
        selector,
    )


def seen_texts(driver: WebDriver) -> list[str]:
    found: list[str] = driver.execute_script("return window.seenTexts")
    return found


def test_a_calling_list_file_is_uploaded_validated_previewed_and_its_refused_rows_paged(
    browser: WebDriver, service: LocalService, tmp_path: Path
):
    # GIVEN a CSV file of 20,000 good rows, 150 with a number that is not one and 30 without a quote
    lines = ["first,cell,quote"]
    lines += [f"Guest {i},+1416{200 + i // 10_000:03d}{i % 10_000:04d},{1_000 + i}" for i in range(20_000)]
    lines += [f"Bad {i},not a number {i},500" for i in range(150)]
    lines += [f"Blank {i},+1416300{i:04d}," for i in range(30)]
    path = tmp_path / "november.csv"
    path.write_text("\n".join(lines) + "\n")
    signed_in(browser, service, DEMO_KEY, "lists")
    form = "#list-form"
    fill(find(browser, f"{form} [name=name]"), "November file")
    Select(find(browser, f"{form} [name=template_id]")).select_by_visible_text("Fence painting follow-up")
    # WHEN the file is chosen: its header gives the columns, and the file goes as it is
    find(browser, "#list-file").send_keys(str(path))
    until(browser, lambda d: find(d, "#list-file-note").is_displayed())
    assert find(browser, "#list-file-name").text.startswith("november.csv (")
    assert not find(browser, f"{form} [name=csv]").is_enabled()
    Select(find(browser, f"{form} [name=phone_field]")).select_by_visible_text("cell")
    Select(find(browser, f"{form} [name=name_field]")).select_by_visible_text("first")
    Select(find(browser, f"{form} [name='mapping.first_name']")).select_by_visible_text("first")
    until(
        browser,
        lambda d: Select(find(d, f"{form} [name='mapping.quote']")).first_selected_option.text == "quote",
    )
    watch_texts(browser, "#list-wait .wait-text")
    submit(browser, form)

    # THEN the upload's progress shows, then the file's validation and the preview's progress
    until(
        browser, lambda d: find(d, "#list-wait").get_attribute("data-status") in {"validating", "previewing"}
    )
    job_id = find(browser, "#list-wait").get_attribute("data-job-id")
    screenshot_check(browser, "lists-previewing")
    until(browser, lambda d: find(d, "#confirm-dialog").get_attribute("open") is not None, seconds=90)
    texts = seen_texts(browser)
    assert any(re.fullmatch(r"Uploading november\.csv: 100% \(.+ of .+\)", text) for text in texts), texts
    assert any(text.startswith("Reading and checking the file") for text in texts), texts
    computing = r"Computing the preview: [\d,]+ of [\d,]+ segments? done, [\d,]+ records read"
    assert any(re.fullmatch(computing, text) for text in texts), texts
    job = service.call("GET", f"/v1/calling-lists/{job_id}").body
    assert job["status"] == "previewed", job
    assert job["validation"]["refused"] == {"invalid_phone_number": 150, "missing_field": 30}
    progress = job["preview_progress"]
    assert (progress["segments_done"], progress["records_read"]) == (progress["segments"], 20_000)
    assert find(browser, "#confirm-summary").text == "This message will be sent to 20,000 customers."

    # WHEN the preview is cancelled, nothing is sent, and the refused rows stay to read
    find(browser, "#confirm-cancel").click()
    toast(browser, r"Cancelled: nothing was sent\.")
    assert service.call("GET", f"/v1/calling-lists/{job_id}").body["status"] == "cancelled"
    assert find(browser, "#list-validation-summary").text == "20,000 accepted, 180 refused."
    reasons = {
        li.get_attribute("data-reason"): li.text
        for li in browser.find_elements(By.CSS_SELECTOR, "#list-refused-reasons li")
    }
    assert reasons == {
        "invalid_phone_number": "invalid phone number 150",
        "missing_field": "missing field 30",
    }
    assert find(browser, "#list-errors-count").text == "180 rows were refused"
    until(browser, lambda d: len(cells(d, "#list-errors")) == 100)
    screenshot_check(browser, "lists-refused")
    find(browser, "#list-errors-more").click()
    until(browser, lambda d: len(cells(d, "#list-errors")) == 180)
    assert not find(browser, "#list-errors-more").is_displayed()
    # the rows shown are the API's, page after page, in row order
    first = service.call("GET", f"/v1/calling-lists/{job_id}/errors?limit=100").body
    rest = service.call("GET", f"/v1/calling-lists/{job_id}/errors?cursor={first['next_cursor']}").body
    api_rows = [[str(e["row"]), e["field"]] for e in first["items"] + rest["items"]]
    assert [row[:2] for row in cells(browser, "#list-errors")] == api_rows
    assert (api_rows[0], api_rows[-1]) == (["20001", "cell"], ["20180", "quote"])
    # AND the link to errors.csv is its pre-signed download: every refused row, as the API serves them
    link = find(browser, "#list-errors-csv")
    assert link.is_displayed()
    assert link.text == f"Download every refused row ({job_id}-errors.csv)"
    with urllib.request.urlopen(str(link.get_attribute("href")), timeout=10) as answer:
        downloaded = answer.read().decode()
        assert "attachment" in answer.headers["Content-Disposition"]
    request = urllib.request.Request(
        f"{service.url}/v1/calling-lists/{job_id}/errors.csv", headers={"Authorization": f"Bearer {DEMO_KEY}"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert downloaded == answer.read().decode()
    assert len(downloaded.splitlines()) == 181


def tenant_wall_time(service: LocalService, seconds: float) -> tuple[str, datetime]:
    """A datetime-local value ``seconds`` from now in the tenant's time zone, and that instant."""
    zone = ZoneInfo(service.call("GET", "/v1/settings").body["time_zone"])
    moment = (datetime.now(UTC) + timedelta(seconds=seconds)).astimezone(zone).replace(microsecond=0)
    return moment.strftime("%Y-%m-%dT%H:%M:%S"), moment


def set_value(driver: WebDriver, selector: str, value: str) -> None:
    driver.execute_script("document.querySelector(arguments[0]).value = arguments[1]", selector, value)


def preview_a_notice(browser: WebDriver, service: LocalService) -> str:
    signed_in(browser, service, DEMO_KEY, "mass")
    form = "#mass-form"
    Select(find(browser, f"{form} [name=saved_message]")).select_by_value("unplanned_outage_no_eta")
    set_value(browser, f"{form} [name=outage_start]", "2026-12-01T02:30")
    fill(find(browser, f"{form} [name=contact_types]"), "Billing, Technical")
    submit(browser, form)
    until(browser, lambda d: find(d, "#confirm-dialog").get_attribute("open") is not None)
    return str(find(browser, "#confirm-dialog").get_attribute("data-job-id"))


def test_a_mass_message_is_scheduled_in_the_tenants_time_zone_moved_started_or_cancelled(
    browser: WebDriver, service: LocalService
):
    # The tenant's wall time, read in its zone whatever the browser's, across the clocks' changes
    signed_in(browser, service, DEMO_KEY, "mass")
    read = browser.execute_script(
        "return [['2026-12-01T07:30', 'America/New_York'], ['2026-03-08T02:30', 'America/New_York'],"
        " ['2026-11-01T01:30', 'America/New_York'], ['2026-07-01T07:30:15', 'America/Vancouver']]"
        ".map(([value, zone]) => window.smsConsole.zonedInputToIso(value, zone))"
    )
    assert read == ["2026-12-01T07:30:00-05:00", "2026-03-08T02:30:00-05:00", "2026-11-01T01:30:00-04:00",
                    "2026-07-01T07:30:15-07:00"]  # fmt: skip

    # GIVEN a previewed notice WHEN it is confirmed for an hour from now, sent even if it changed
    job_id = preview_a_notice(browser, service)
    find(browser, "#confirm-form [name=when][value=later]").click()
    assert find(browser, "#confirm-send").text.startswith("Schedule for ")
    assert find(browser, "#confirm-zone").text == service.call("GET", "/v1/settings").body["time_zone"]
    # a time already past is refused beside the field
    past, _ = tenant_wall_time(service, -3600)
    set_value(browser, "#confirm-form [name=send_at]", past)
    submit(browser, "#confirm-form")
    assert field_problem(browser, "#confirm-form", "send_at")
    wall, instant = tenant_wall_time(service, 3600)
    set_value(browser, "#confirm-form [name=send_at]", wall)
    Select(find(browser, "#confirm-form [name=if_changed]")).select_by_value("send")
    screenshot_check(browser, "mass-schedule", modal=True)
    submit(browser, "#confirm-form")

    # THEN it waits, scheduled for that instant, and says so in the tenant's time zone
    until(browser, lambda d: find(d, "#mass-progress").get_attribute("data-state") == "scheduled")
    job = service.call("GET", f"/v1/mass-messages/{job_id}").body
    assert (job["status"], job["if_changed"]) == ("scheduled", "send")
    assert datetime.fromisoformat(job["send_at"]) == instant
    assert (
        "If the recipients, the text or the balance changed by then, it is sent anyway."
        in find(browser, "#mass-progress .schedule-text").text
    )
    screenshot_check(browser, "mass-scheduled")

    # WHEN it is moved to a few seconds from now THEN it starts then, and its start report shows
    soon_wall, soon = tenant_wall_time(service, 4)
    set_value(browser, "#mass-progress [name=send_at]", soon_wall)
    submit(browser, "#mass-progress .schedule-form")
    toast(browser, r"Moved to .*")
    assert datetime.fromisoformat(service.call("GET", f"/v1/mass-messages/{job_id}").body["send_at"]) == soon
    until(browser, lambda d: find(d, "#mass-progress").get_attribute("data-state") == "done", seconds=60)
    report = service.call("GET", f"/v1/mass-messages/{job_id}").body["start_report"]
    assert (report["action"], report["changed"]) == ("sent", False)
    shown = find(browser, "#mass-progress .start-report").text
    assert re.fullmatch(r"Started .*: unchanged since the confirmation, .*; sent\.", shown), shown

    # AND another, scheduled, is cancelled before its time
    other = preview_a_notice(browser, service)
    find(browser, "#confirm-form [name=when][value=later]").click()
    set_value(browser, "#confirm-form [name=send_at]", tenant_wall_time(service, 3600)[0])
    submit(browser, "#confirm-form")
    until(browser, lambda d: find(d, "#mass-progress").get_attribute("data-state") == "scheduled")
    find(browser, "#mass-progress .progress-cancel").click()
    until(browser, lambda d: find(d, "#mass-progress").get_attribute("data-state") == "done")
    cancelled = service.call("GET", f"/v1/mass-messages/{other}").body
    assert (cancelled["status"], cancelled["created_messages"]) == ("cancelled", 0)


@pytest.fixture
def callback_receiver() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    with post_receiver("/sms-status", 200, b"ok") as received:
        yield received


def test_the_status_callback_is_registered_with_its_secret_once_and_its_deliveries_are_logged(
    browser: WebDriver, service: LocalService, callback_receiver: tuple[str, list[bytes]]
):
    url, posts = callback_receiver
    # GIVEN a tenant of its own (no other test's messages reach the receiver, and the stream reader
    # has no registration of it cached yet)
    key, contact_id = onboard_tenant(
        service,
        "console-callbacks",
        "+18335550179",
        {"phone_number": "+15145550113", "email": "care@console-callbacks.example"},
        {
            "name": "Dee", "contact_type": "Primary", "related_entity_id": "A-20", "related_entity_name": "Dee home",
            "phones": [{"number": "514-555-0143", "number_type": "Mobile", "sms_opt_in": True}],
        },
    )  # fmt: skip
    signed_in(browser, service, key, "integrations")
    assert find(browser, "#callback-state").text.startswith("No status callback")
    form = "#callback-form"
    # WHEN a URL the API refuses is given, it is shown beside it; then the receiver's is registered
    fill(find(browser, f"{form} [name=url]"), "ftp://hooks.example.com/status")
    submit(browser, form)
    assert "https" in field_problem(browser, form, "url")
    fill(find(browser, f"{form} [name=url]"), url)
    submit(browser, form)
    until(browser, lambda d: find(d, "#callback-secret").is_displayed())
    assert find(browser, "#callback-secret-value").text
    assert service.call("GET", "/v1/status-callback", key=key).body["url"] == url
    # AND a message is sent
    sent = service.call("POST", "/v1/triggers/ticket_closed", {
        "contact_id": contact_id, "variables": {"company": "Cc", "ticket_number": "C-1"},
    }, key=key)  # fmt: skip
    assert sent.status == 202, sent.body
    deadline = time.monotonic() + 30
    log: list[dict[str, Any]] = []
    while time.monotonic() < deadline and len([i for i in log if i["outcome"] == "delivered"]) < 2:
        time.sleep(0.5)
        log = service.call("GET", "/v1/status-callback/deliveries", key=key).body["items"]
    assert len(posts) >= 2, "Sent and Delivered were not posted"
    # THEN its attempts show in the delivery log as the API has them, with the answer
    find(browser, "#deliveries-refresh").click()
    until(browser, lambda d: len(cells(d, "#deliveries-table")) == len(log))
    shown = [[row[1].split("\n")[0], *row[2:6]] for row in cells(browser, "#deliveries-table")]
    assert shown == [[i["event_id"], str(i["attempt"]), "delivered", "200", "ok"] for i in log]
    screenshot_check(browser, "integrations")
    # AND the secret is never shown again; removing the callback stops the posts
    signed_in(browser, service, key, "integrations")
    assert not find(browser, "#callback-secret").is_displayed()
    assert find(browser, f"{form} [name=url]").get_attribute("value") == url
    find(browser, "#callback-delete").click()
    toast(browser, r"Status changes are no longer posted\.")
    assert service.call("GET", "/v1/status-callback", key=key).status == 404


def test_contacts_are_found_by_name_or_by_number(browser: WebDriver, service: LocalService):
    signed_in(browser, service, DEMO_KEY, "contacts")
    finder = "#contact-find"
    # GIVEN a family name's start WHEN found THEN the contacts the API finds
    fill(find(browser, f"{finder} [name=name]"), "love")
    submit(browser, finder)
    until(browser, lambda d: [r[0].split("\n")[0] for r in cells(d, "#contacts-table")] == ["Ada Lovelace"])
    assert [c["name"] for c in service.call("GET", "/v1/contacts?name=love").body] == ["Ada Lovelace"]
    screenshot_check(browser, "contacts-found")
    fill(find(browser, f"{finder} [name=name]"), "")
    # AND by a number in any form
    fill(find(browser, f"{finder} [name=phone_number]"), "(212) 555-0187")
    submit(browser, finder)
    until(browser, lambda d: [r[0].split("\n")[0] for r in cells(d, "#contacts-table")] == ["Grace Hopper"])
    # AND a number that is not one is named beside its field
    fill(find(browser, f"{finder} [name=phone_number]"), "555")
    submit(browser, finder)
    assert "not a US or Canadian number" in field_problem(browser, finder, "phone_number")
