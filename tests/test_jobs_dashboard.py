"""The live dashboard in a real headless browser (issue 14 point 5): Debian's Chromium driven by
Playwright (never a browser of Playwright's own). The page loads, signs in, shows a running job's
entanglement table and the nodes' utilisation updating, lists the job with its results and plots once
it ends, and logs no console error on the way."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from jobs_support import HOLD, TELEPORT, ServedTestNetwork, ServiceProcess, add_user, submit, wait_job, zip_dir

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
#: What Chromium needs here (no sandbox as root, no GPU, and no calls home on a closed network).
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
         "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync"]

if CHROMIUM is None:
    if os.environ.get("CI"):
        pytest.fail("Chromium is missing in CI: .ci/run installs Debian's chromium package", pytrace=False)
    pytest.skip("Chromium is not installed here (apt-get install -y chromium); CI installs it",
                allow_module_level=True)

from playwright.sync_api import expect, sync_playwright  # noqa: E402  (after the skip: test extra)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    base = tmp_path_factory.mktemp("dashboard")
    network = ServedTestNetwork()
    token = add_user(base / "data", "alice")
    service = ServiceProcess(network.write_config(base / "network.toml"), base / "data").start()
    yield service, token, base
    service.terminate()
    network.close()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield chromium
        chromium.close()


def test_dashboard_shows_a_running_job_live_and_its_results(setup, browser):
    service, token, base = setup
    release = base / "release"
    problems: list[str] = []
    page = browser.new_page(viewport={"width": 1280, "height": 1600})
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning")
            else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url} {r.failure}")
            if "/api/events" not in r.url else None)  # (the event stream is cut when the page closes)
    page.set_default_timeout(60_000)

    page.goto(service.url)
    expect(page.locator("#status")).to_have_text("Not signed in.")
    page.get_by_label("Access token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#status")).to_contain_text("Signed in as alice")

    with service.client(token) as client:
        job = submit(client, zip_dir(HOLD), "hold.zip", runs=1, inputs={"holder": {"release": str(release)}}).json()
        # the running job's pair appears in both nodes' entanglement tables, with its partner
        for node, partner in (("sender", "receiver"), ("receiver", "sender")):
            row = page.locator(f'article[data-node="{node}"] table.entanglement tbody tr').first
            expect(row.locator("td").nth(1)).to_have_text(partner)
            fidelity = float(row.locator("td").nth(4).inner_text())
            assert 0.5 < fidelity <= 1.0
        expect(page.locator('#job-table tbody tr[data-job="%s"] td' % job["id"]).nth(2)).to_have_text("running")

        # the sender works through the job's subroutines: its device time, the pair's age and the
        # utilisation history move on from update to update
        sender = page.locator('article[data-node="sender"]')
        chart = sender.locator("svg.utilisation")
        first = (sender.locator("dd.device-time").inner_text(), chart.get_attribute("data-samples"),
                 chart.get_attribute("data-latest"), sender.locator("table.entanglement tbody tr td").nth(3).inner_text())
        page.wait_for_function(
            """([samples, latest]) => {
                 const c = document.querySelector('article[data-node="sender"] svg.utilisation');
                 return Number(c.dataset.samples) >= Number(samples) + 3 && c.dataset.latest !== latest;
               }""", arg=[first[1], first[2]])
        assert sender.locator("dd.device-time").inner_text() != first[0]
        assert sender.locator("table.entanglement tbody tr td").nth(3).inner_text() != first[3]
        assert "holder" in sender.locator("table.processes").inner_text()
        assert sender.locator("svg.utilisation polyline").count() == 1
        assert sender.locator("table.links tbody td").first.inner_text() == "receiver"
        assert sender.locator("table.timeline-rows tbody tr").count() > 3
        assert "holder" in sender.locator("table.timeline-rows").inner_text()

        release.write_text("done")
        wait_job(client, job["id"], ("done",))
        teleport = submit(client, zip_dir(TELEPORT), runs=4).json()
        wait_job(client, teleport["id"], ("done",))

    row = page.locator(f'#job-table tbody tr[data-job="{teleport["id"]}"]')
    expect(row.locator("td").nth(2)).to_have_text("done")
    expect(row.locator("td").nth(3)).to_have_text("4 / 4")
    row.get_by_role("button").click()
    detail = page.locator("#job-detail")
    expect(detail.locator("table.statistics")).to_contain_text("sender.m1")
    expect(detail.locator("table.statistics")).to_contain_text("sender.m2")
    images = detail.locator(".plots img")
    expect(images.first).to_be_visible()
    page.wait_for_function("() => [...document.querySelectorAll('#job-detail .plots img')]"
                           ".every(i => i.complete && i.naturalWidth > 0)")
    assert images.count() >= 2 and all(images.nth(i).get_attribute("alt") for i in range(images.count()))
    # the latest run's timeline, drawn from the nodes' traces of the job's processes
    timeline = detail.locator("figure.timeline-plot img")
    expect(timeline).to_be_visible()
    page.wait_for_function("() => { const i = document.querySelector('#job-detail figure.timeline-plot img');"
                           " return i.complete && i.naturalWidth > 200; }")
    # accessible structure: every table captioned, every form field labelled
    assert page.evaluate("() => [...document.querySelectorAll('table')].every(t => t.caption && t.caption.textContent)")
    page.close()
    assert not problems, problems
