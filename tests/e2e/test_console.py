"""The operator console in a real browser (Debian's Chromium, headless, driven by Playwright).

One live service runs for the module: the API with the camera manager, in this process, on a
free port, with a fresh data folder and one user per role. The browser then does what a
control room does: a supervisor creates a watchlist, authorises it on a camera group, enrols
a passer-by of the 1080p clip from a photo, adds a camera streaming that clip over RTSP; the
alert appears live on an alerts page that is never reloaded; two people confirm it; it is
found in the history; an auditor sees every step in the verified audit chain. Every page is
photographed at 1366×768 into build/screenshots/; `make screenshots` refreshes the copies in
docs/screenshots/ that the README and docs/console.md show.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest
from playwright.sync_api import BrowserContext, Page, expect, sync_playwright

from support.camera_servers import RtspServer
from support.service_harness import serve_api
from support.tools import require
from watchkeeper.api.app import create_app
from watchkeeper.api.metrics import Metrics
from watchkeeper.config import load_settings
from watchkeeper.context import AppContext
from watchkeeper.demo import CLIP, probe_photo, read_frame
from watchkeeper.policy import accounts
from watchkeeper.service.runtime import Services
from watchkeeper.vision import FaceAnalyzer

REPO = Path(__file__).resolve().parents[2]

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Screenshots go to the build folder, so that a test run leaves the tree clean;
# `make screenshots` points this at docs/screenshots/ to refresh the ones the docs show.
SHOTS = Path(os.environ.get("WATCHKEEPER_SCREENSHOTS", REPO / "build" / "screenshots"))
VIEWPORT = {"width": 1366, "height": 768}
PASSWORD = "correct horse battery staple"
USERS = {"ada": "admin", "sam": "supervisor", "olga": "operator", "audrey": "auditor"}
EXAMPLES = REPO / "examples" / "data"
CORRUPT = EXAMPLES / "facenet-pytorch" / "test_images" / "bradley_cooper" / "1.jpg"  # 0 bytes


@dataclass
class Console:
    url: str
    ctx: AppContext
    rtsp: RtspServer


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory, analyzer: FaceAnalyzer) -> Iterator[Console]:
    settings = load_settings(
        data_dir=tmp_path_factory.mktemp("console") / "data",
        api={"cookie_secure": False, "camera_file_roots": [str(CLIP.parent)]},
    )
    ctx = AppContext(settings, actor="test")
    ctx.__dict__["analyzer"] = analyzer  # the session's models, loaded once
    with ctx.db.session() as s:
        for username, role in USERS.items():
            accounts.create_user(s, "test", username, PASSWORD, role)
    rtsp = RtspServer(CLIP).start()
    metrics = Metrics()
    services = Services(ctx, registry=metrics.registry)
    server, thread, url = serve_api(create_app(ctx, services=services, metrics=metrics))
    yield Console(url, ctx, rtsp)
    services.broker.close()  # ends the browsers' event streams, as `watchkeeper serve` does
    server.should_exit = True
    thread.join(30)
    rtsp.stop()
    ctx.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    chromium = require("chromium")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=chromium,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport=VIEWPORT,
            timezone_id="UTC",
            locale="en-GB",
        )
        context.set_default_timeout(15_000)
        yield context
        context.close()


@pytest.fixture
def page(browser: BrowserContext) -> Iterator[Page]:
    browser.clear_cookies()
    page = browser.new_page()
    yield page
    page.close()


def shot(page: Page, name: str) -> None:
    """Photograph the page for the docs, after checking no value was rendered as null."""
    leaks = page.evaluate(
        """() => {
            const walk = document.createTreeWalker(document.querySelector("main"), 4);
            const found = [];
            while (walk.nextNode()) {
                const node = walk.currentNode;  // recorded JSON in <code> may say null
                if (!node.parentElement.closest("code") && /\\b(null|undefined|NaN)\\b/
                    .test(node.textContent)) found.push(node.textContent);
            }
            return found;
        }"""
    )
    assert leaks == []
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"console-{name}.png"))


def log_in(page: Page, url: str, username: str) -> None:
    page.goto(f"{url}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda address: "/login" not in address)


def log_out(page: Page) -> None:
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login")


def drop_file(page: Page, selector: str, name: str, data: bytes) -> None:
    """Drop a file on an element as a user dragging it from the desktop would."""
    transfer = page.evaluate_handle(
        """([name, b64]) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, { type: "image/jpeg" }));
            return transfer;
        }""",
        [name, base64.b64encode(data).decode()],
    )
    page.dispatch_event(selector, "drop", {"dataTransfer": transfer})


def nav_links(page: Page) -> list[str]:
    return page.locator("header nav a").all_inner_texts()


def test_the_login_page_sends_an_anonymous_visitor_back_after_logging_in(page, console):
    page.goto(f"{console.url}/persons")
    expect(page).to_have_url(f"{console.url}/login?next=%2Fpersons")
    shot(page, "login")
    page.get_by_label("Username").fill("sam")
    page.get_by_label("Password").fill("wrong password!")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#login-error")).to_contain_text("wrong username or password")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{console.url}/persons")
    expect(page.get_by_role("heading", name="Enrol a person")).to_be_visible()


def test_an_operator_neither_sees_nor_reaches_the_admin_pages(page, console):
    log_in(page, console.url, "olga")
    expect(page).to_have_url(f"{console.url}/alerts")
    assert nav_links(page) == [
        "Live alerts", "Cameras", "Crowd", "Watchlists", "Persons", "History", "Investigations"
    ]  # fmt: skip
    for path in ("/users", "/audit"):
        reply = page.goto(f"{console.url}{path}")
        assert reply is not None and reply.status == 403
        expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    shot(page, "forbidden")
    status = page.evaluate("fetch('/api/v1/users').then((r) => r.status)")
    assert status == 403
    page.goto(f"{console.url}/persons")
    expect(page.get_by_role("heading", name="Enrol a person")).to_have_count(0)
    page.goto(f"{console.url}/cameras")
    expect(page.get_by_role("heading", name="Cameras")).to_be_visible()
    expect(page.get_by_role("button", name="Add camera")).to_have_count(0)


def test_a_supervisor_enrols_a_person_and_the_live_alert_is_confirmed_by_two_people(
    browser: BrowserContext, page: Page, console: Console
) -> None:
    url = console.url
    log_in(page, url, "sam")

    # A purpose-bound watchlist that needs two confirmations per alert.
    page.goto(f"{url}/watchlists")
    page.locator("summary", has_text="Create a watchlist").click()
    page.get_by_label("Name", exact=True).fill("missing-2026-e2e")
    page.get_by_label("Purpose").select_option("missing_person")
    page.get_by_label("Owner").fill("Duty inspector Doe")
    page.get_by_label("Legal basis").fill("Police Act s.1, case 2026/1142 (fictional)")
    page.get_by_label("Review by").fill("2030-06-30")
    page.get_by_label("Confirmations needed per alert").fill("2")
    page.get_by_role("button", name="Create watchlist").click()
    expect(page.locator("#lists tbody tr")).to_contain_text(["missing-2026-e2e"])

    # Outside an authorised deployment nothing is matched: authorise group "arcade" (the
    # deployment form opens by itself once a list is created).
    expect(page.get_by_label("Camera group")).to_be_focused()
    page.get_by_label("Camera group").fill("arcade")
    page.get_by_label("Authorised by").fill("Supt. Grey")
    page.get_by_label("Authorisation reference").fill("AUTH-2026-0042")
    page.get_by_role("button", name="Authorise").click()
    expect(page.locator("#deployments tbody tr")).to_contain_text(["arcade"])
    expect(page.locator("#deployments .badge")).to_have_text(["active"])
    page.locator("#deploy-details > summary").click()  # folded again for the screenshot
    page.locator("summary", has_text="Create a watchlist").click()
    shot(page, "watchlists")

    # Enrol from photos: the clip's passer-by is accepted, a blank and an empty file refused.
    probe, _ = probe_photo(console.ctx, read_frame(CLIP, 5))
    blank = cv2.imencode(".jpg", np.full((480, 640, 3), 127, np.uint8))[1].tobytes()
    page.goto(f"{url}/persons")
    enrol_list = page.get_by_label("Watchlist", exact=True)
    enrol_list.select_option(label="missing-2026-e2e (Missing person)")
    page.get_by_label("Name or case reference").fill("Jane Roe")
    page.get_by_role("textbox", name="Reason", exact=True).fill(
        "reported missing 2026-11-26 <img src=x onerror=window.pwned=1>"
    )
    page.get_by_label("Expires").fill("2030-12-31")
    page.get_by_label("Use the largest face").check()
    drop_file(page, "#dropzone", "passer-by.jpg", probe)
    drop_file(page, "#dropzone", "blank.jpg", blank)
    page.locator("#en-photos").set_input_files(str(CORRUPT))
    checks = page.locator("#photo-checks li")
    expect(checks.filter(has_text="passer-by.jpg")).to_have_class("accepted")
    expect(checks.filter(has_text="passer-by.jpg")).to_contain_text("Face found · quality")
    expect(checks.filter(has_text="blank.jpg")).to_contain_text("Refused: blank.jpg: no face found")
    expect(checks.filter(has_text="1.jpg")).to_contain_text("the file is empty")
    expect(page.locator("#photo-checks .box")).to_have_count(1)  # the detected face, boxed
    shot(page, "persons")
    page.get_by_role("button", name="Enrol", exact=True).click()
    expect(page.locator("#status")).to_contain_text("Jane Roe enrolled on missing-2026-e2e")
    page.get_by_label("Name contains").fill("roe")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#persons tbody tr")).to_have_count(1)
    expect(page.locator("#persons tbody tr")).to_contain_text("2030-12-31")
    expect(page.locator("#persons tbody tr")).to_contain_text("<img src=x onerror=")  # as text
    assert page.evaluate("window.pwned") is None

    # The alerts page is opened before the camera exists and never reloaded afterwards.
    alerts = browser.new_page()
    alerts.goto(f"{url}/alerts")
    expect(alerts.locator("#live")).to_have_text("Live")
    alerts.evaluate("window.notReloaded = true")
    # note when the first alert enters the queue, whatever the test is doing meanwhile
    alerts.evaluate(
        """() => new MutationObserver(() => {
            if (!window.firstAlertAt && document.querySelector('#queue li'))
                window.firstAlertAt = Date.now();
        }).observe(document.querySelector('#queue'), {childList: true, subtree: true})"""
    )

    # Add the camera, after a live test of its URI.
    page.goto(f"{url}/cameras")
    page.get_by_role("button", name="Add camera").click()
    page.get_by_label("Name", exact=True).fill("Arcade west")
    page.get_by_label("Group").fill("arcade")
    page.get_by_label("Source URI").fill(console.rtsp.url)
    page.get_by_role("button", name="Test URI").click()
    expect(page.locator("#cam-test-result")).to_contain_text("Frames arrive", timeout=20_000)
    expect(page.locator("#cam-test-result")).to_contain_text("1920×1080")
    shot(page, "camera-dialog")
    page.get_by_role("button", name="Save").click()
    card = page.locator("#wall > li").filter(has_text="Arcade west")
    expect(card).to_have_attribute("data-state", "connected", timeout=30_000)
    expect(card.locator(".frame img")).to_have_count(1, timeout=15_000)
    expect(card).not_to_contain_text("0.0 fps")
    shot(page, "cameras")
    page.close()

    # The alert arrives on the open page by itself, with a sound cue.
    item = alerts.locator("#queue li").first
    expect(item).to_be_visible(timeout=60_000)
    shown_at = datetime.fromtimestamp(alerts.evaluate("window.firstAlertAt") / 1000, UTC)
    assert alerts.evaluate("window.notReloaded") is True
    assert alerts.evaluate("document.body.dataset.cues") == "1"
    alert_id = int(item.get_attribute("data-id") or 0)
    with httpx.Client(base_url=url, timeout=10) as api:
        login = api.post("/api/v1/auth/login", json={"username": "audrey", "password": PASSWORD})
        assert login.status_code == 200
        created = datetime.fromisoformat(api.get(f"/api/v1/alerts/{alert_id}").json()["created_at"])
    delay = (shown_at - created).total_seconds()
    print(f"alert {alert_id} shown {delay:.2f} s after it was created")
    assert delay < 2.0

    detail = alerts.locator("#detail")
    expect(detail.get_by_role("heading", name="Jane Roe")).to_be_visible()
    expect(detail).to_contain_text("Missing person")
    expect(detail).to_contain_text("Police Act s.1")
    expect(detail).to_contain_text("Arcade west (group arcade)")
    expect(alerts.locator("#two-person")).to_have_text("0 of 2 confirmations")
    for image in (detail.locator("img[alt^='live face crop']"), detail.locator(".matched img")):
        expect(image).to_be_visible()
        assert image.evaluate("(img) => img.complete && img.naturalWidth > 0")

    # First confirmation, by keyboard: n to comment, Escape, c to confirm.
    alerts.keyboard.press("n")
    alerts.keyboard.type("same jacket as the missing-person photo")
    alerts.keyboard.press("Escape")
    alerts.keyboard.press("c")
    expect(alerts.locator("#two-person")).to_have_text("1 of 2 confirmations")
    expect(detail.get_by_role("button", name="Confirm (c)")).to_be_disabled()
    alerts.keyboard.press("m")
    expect(alerts.get_by_role("button", name="Muted")).to_have_attribute("aria-pressed", "true")
    alerts.keyboard.press("m")
    shot(alerts, "alerts")
    alerts.set_viewport_size({"width": 2560, "height": 1440})
    alerts.screenshot(path=str(SHOTS / "console-alerts-control-room.png"))
    alerts.set_viewport_size(VIEWPORT)

    # The second person confirms; the alert becomes actionable.
    log_out(alerts)
    log_in(alerts, url, "olga")
    expect(alerts.locator(f"#alert-{alert_id}")).to_be_visible()
    alerts.get_by_label("Comment (kept with the review)").fill("confirmed on the live crop")
    alerts.get_by_role("button", name="Confirm (c)").click()
    expect(alerts.locator("#two-person")).to_have_text("Confirmed by olga and sam — actionable")
    expect(alerts.locator(f"#alert-{alert_id}")).to_have_attribute("data-state", "confirmed")
    console.rtsp.stop()  # the rest needs no stream; give the CPU back to the browser

    # History: the confirmed alert, found by its filters.
    alerts.goto(f"{url}/history")
    alerts.get_by_label("Camera").select_option(label="Arcade west")
    alerts.get_by_label("Watchlist").select_option(label="missing-2026-e2e")
    alerts.get_by_label("State").select_option("confirmed")
    alerts.get_by_role("button", name="Apply").click()
    row = alerts.locator(f"#results tbody tr[data-id='{alert_id}']")
    expect(row).to_contain_text("Jane Roe")
    expect(row).to_contain_text("olga: confirm")
    shot(alerts, "history")
    alerts.get_by_label("State").select_option("rejected")
    alerts.get_by_role("button", name="Apply").click()
    expect(alerts.locator("#results-empty")).to_be_visible()
    alerts.get_by_label("Sightings").check()
    first_sighting = alerts.locator("#results tbody tr").first
    expect(first_sighting).to_contain_text("Jane Roe on missing-2026-e2e")

    # The auditor sees every step in the verified chain.
    log_out(alerts)
    log_in(alerts, url, "audrey")
    alerts.goto(f"{url}/audit")
    expect(alerts.locator("#chain-status")).to_contain_text("Intact: all")
    events = alerts.locator("#events tbody tr")
    expect(events.first).to_be_visible()
    actions = set(events.evaluate_all("(rows) => rows.map((r) => r.dataset.action)"))
    expected = {"watchlist.create", "deployment.add", "person.enrol", "alert.review"}
    assert expected <= actions, actions
    reviews = alerts.locator("#events tbody tr[data-action='alert.review']")
    expect(reviews).to_have_count(2)
    expect(reviews.filter(has_text="user:olga")).to_contain_text("confirmed on the live crop")
    shot(alerts, "audit")
    alerts.close()


def test_an_admin_creates_a_user_and_edits_a_camera(page, console):
    log_in(page, console.url, "ada")
    assert "Users" in nav_links(page) and "Audit" in nav_links(page)
    page.goto(f"{console.url}/users")
    page.get_by_label("Username").fill("nina")
    page.get_by_label("Role", exact=True).select_option("operator")
    page.get_by_label("Initial password (12+ characters)").fill("a long enough password")
    page.get_by_role("button", name="Create user").click()
    row = page.locator("#users tbody tr[data-username='nina']")
    expect(row).to_be_visible()
    expect(row.get_by_label("Role of nina")).to_have_value("operator")
    shot(page, "users")

    # Edit a camera (made here through the API, disabled: it needs no CPU).
    with httpx.Client(base_url=console.url, timeout=10) as api:
        login = api.post("/api/v1/auth/login", json={"username": "ada", "password": PASSWORD})
        api.headers["X-CSRF-Token"] = login.json()["csrf_token"]
        made = api.post(
            "/api/v1/cameras",
            json={"name": "Lab bench", "uri": str(CLIP), "group": "lab", "enabled": False},
        )
        assert made.status_code == 201, made.text
    page.goto(f"{console.url}/cameras")
    page.get_by_role("button", name="Edit camera Lab bench").click()
    expect(page.get_by_label("Source URI")).to_have_value(str(CLIP))
    page.get_by_label("Name", exact=True).fill("Lab bench 2")
    page.get_by_label("Analysed frames/s").fill("2")
    page.get_by_label("Reason for the change").fill("renamed for the e2e test")
    page.get_by_role("button", name="Save").click()
    card = page.locator("#wall > li").filter(has_text="Lab bench 2")
    expect(card).to_have_attribute("data-state", "disabled")
    with httpx.Client(base_url=console.url, timeout=10) as api:
        api.post("/api/v1/auth/login", json={"username": "ada", "password": PASSWORD})
        camera = api.get(f"/api/v1/cameras/{made.json()['id']}").json()
    assert camera["name"] == "Lab bench 2" and camera["analysis_fps"] == 2
