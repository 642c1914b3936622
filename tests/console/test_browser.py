"""The console in real headless Chromium against a real runner, real emulators and a real app (apps/shop).

One runner serves the whole module (they share an xdist group); each test works on its own entities,
job or queue. Screenshots of each page go to tests/console/screenshots/ (CONSOLE_SCREENSHOTS overrides).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.console.browser import chromium, click_and_load, screenshot, skip_without_browser, until
from tests.local.conftest import Running, start_runner

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("console_browser")]
APP = Path(__file__).parent / "apps" / "shop"


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    skip_without_browser()
    tmp = tmp_path_factory.mktemp("console")
    app_dir = tmp / "shop"
    shutil.copytree(APP, app_dir, ignore=shutil.ignore_patterns("__pycache__", ".local", ".datastore"))
    with start_runner(app_dir, tmp) as running:
        yield running


@pytest.fixture(scope="module")
def browser(runner: Running) -> Iterator[Any]:
    with chromium() as driver:
        yield driver


def console(runner: Running) -> str:
    return str(runner.state["console"])


def text(driver: Any) -> str:
    from selenium.webdriver.common.by import By

    return str(driver.find_element(By.TAG_NAME, "body").text)


def app_json(runner: Running, method: str, path: str) -> dict[str, Any]:
    status, _, body = runner.request(method, path)
    assert status == 200, (status, body)
    return dict(json.loads(body))


def test_browse_to_an_entity_a_request_created_edit_it_and_the_app_reads_it(runner: Running, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    app_json(runner, "POST", "/items/lamp?price=12")
    browser.get(console(runner) + "/")
    assert "Datastore" in browser.title
    row = browser.find_element(By.XPATH, "//table[@id='kinds']//tr[td/a[text()='Item']]")
    assert row.find_elements(By.TAG_NAME, "td")[1].text == "1"
    screenshot(browser, "datastore")

    click_and_load(browser, row.find_element(By.LINK_TEXT, "Item"))
    table = browser.find_element(By.ID, "entities")
    shown = table.text
    assert 'Item:"lamp"' in shown and "blob, 100 bytes" in shown and "2026-12-04 12:30:00.000000 UTC" in shown
    assert "45.76, 4.84" in shown and "null" in shown
    shop_link = table.find_element(By.LINK_TEXT, 'Shop:"main"')  # a key value is a link to its entity
    assert "/datastore/entity/" in shop_link.get_attribute("href")
    embedded = table.find_element(By.CSS_SELECTOR, "details.v-entity")
    assert not embedded.find_element(By.TAG_NAME, "table").is_displayed()
    embedded.find_element(By.TAG_NAME, "summary").click()  # expandable without JavaScript: <details>
    assert "weight_g" in embedded.text and embedded.find_element(By.TAG_NAME, "table").is_displayed()
    screenshot(browser, "kind")

    click_and_load(browser, table.find_element(By.LINK_TEXT, 'Item:"lamp"'))
    assert browser.find_element(By.ID, "key").text == 'Item:"lamp"'
    screenshot(browser, "entity")

    price = browser.find_element(By.NAME, "value:price")
    price.clear()
    price.send_keys("not a number")
    click_and_load(browser, browser.find_element(By.ID, "save"))
    assert "is not an integer" in text(browser)  # refused, field kept, nothing written
    assert browser.find_element(By.NAME, "value:price").get_attribute("value") == "not a number"
    assert app_json(runner, "GET", "/items/lamp")["price"] == 12
    screenshot(browser, "entity-invalid")

    price = browser.find_element(By.NAME, "value:price")
    price.clear()
    price.send_keys("99")
    title = browser.find_element(By.NAME, "value:title")
    title.clear()
    title.send_keys("A better lamp")
    click_and_load(browser, browser.find_element(By.ID, "save"))
    assert "Saved." in text(browser)
    assert app_json(runner, "GET", "/items/lamp") == {"price": 99, "title": "A better lamp"}
    values = browser.find_element(By.ID, "values").text
    assert "blob, 100 bytes" in values and "weight_g" not in values  # untouched values kept (embedded collapsed)

    click_and_load(browser, browser.find_element(By.ID, "delete"))
    assert 'Deleted Item:"lamp"' in text(browser)
    status, _, _ = runner.request("GET", "/items/lamp")
    assert status == 404


def test_run_a_cron_job_now_and_see_its_request_and_log_line(runner: Running, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    browser.get(console(runner) + "/cron")
    job = browser.find_element(By.XPATH, "//table[@id='jobs']//tr[td/code[text()='/cron/tick']]")
    assert "cron.yaml every 24 hours" in job.text and "not since the runner started" in job.text
    screenshot(browser, "cron")
    click_and_load(browser, job.find_element(By.CLASS_NAME, "run-now"))
    assert "Started /cron/tick" in text(browser)

    browser.get(console(runner) + "/requests")

    def cron_row() -> Any:
        rows = browser.find_elements(By.XPATH, "//table[@id='requests']//tr[td/a[text()='/cron/tick']]")
        return rows[0] if rows else None

    row = until(cron_row, "the cron request in the request log", between=browser.refresh)
    cells = [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
    assert cells[1:4] == ["GET", "/cron/tick", "200"] and cells[5] == "default" and cells[7] == "cron"
    screenshot(browser, "requests")
    click_and_load(browser, row.find_element(By.LINK_TEXT, "/cron/tick"))

    def tied_line() -> bool:
        return "cron tick ran" in text(browser)

    until(tied_line, "the request's log line", between=browser.refresh)
    line = browser.find_element(By.XPATH, "//table[@id='lines']//tr[td[contains(., 'cron tick ran')]]")
    assert "trace id" in line.text and "INFO" in line.text
    assert len(browser.find_element(By.ID, "trace").text) == 32
    screenshot(browser, "request")

    browser.get(console(runner) + "/cron")
    job = browser.find_element(By.XPATH, "//table[@id='jobs']//tr[td/code[text()='/cron/tick']]")
    assert "200" in job.text  # the last run and its result


def test_a_job_declared_with_app_cron_is_listed_and_runs_now(runner: Running, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    browser.get(console(runner) + "/cron")

    def sweep_row() -> Any:
        rows = browser.find_elements(By.XPATH, "//table[@id='jobs']//tr[td/code[text()='/cron/sweep']]")
        return rows[0] if rows else None

    row = sweep_row()
    cells = [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
    assert cells[1:4] == ["@app.cron", "every 12 hours", "default"] and cells[4].endswith(" UTC")
    click_and_load(browser, row.find_element(By.CLASS_NAME, "run-now"))
    browser.get(console(runner) + "/requests")

    def delivered() -> bool:
        rows = browser.find_elements(By.XPATH, "//table[@id='requests']//tr[td/a[text()='/cron/sweep']]")
        return bool(rows) and "200" in rows[0].text and "cron" in rows[0].text

    until(delivered, "the declared job's request", between=browser.refresh)


def test_purge_a_queue(runner: Running, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    app_json(runner, "POST", "/enqueue/3")
    browser.get(console(runner) + "/queues")
    row = browser.find_element(By.XPATH, "//table[@id='queues']//tr[td/a[text()='held']]")
    assert "PAUSED" in row.text  # rate 0 in queue.yaml holds the tasks
    assert row.find_elements(By.TAG_NAME, "td")[2].text == "3"
    screenshot(browser, "queues")
    click_and_load(browser, row.find_element(By.LINK_TEXT, "held"))
    tasks = browser.find_elements(By.CSS_SELECTOR, "#tasks tbody tr")
    assert len(tasks) == 3 and "POST /work/0" in browser.find_element(By.ID, "tasks").text
    screenshot(browser, "queue")

    first, second = (row.find_element(By.TAG_NAME, "td").text for row in tasks[:2])
    click_and_load(browser, tasks[0].find_element(By.XPATH, ".//button[text()='Run now']"))  # sent now, even though held
    assert f"Task {first} sent now." in text(browser)

    def delivered() -> bool:
        rows = browser.find_elements(By.XPATH, "//table[@id='requests']//tr[td/a[text()='/work/0']]")
        return bool(rows) and "task held" in rows[0].text and "200" in rows[0].text

    browser.get(console(runner) + "/requests")
    until(delivered, "the task's request in the request log", between=browser.refresh)
    browser.get(console(runner) + "/queues/held")
    until(lambda: first not in text(browser), "the completed task to leave the queue", between=browser.refresh)
    row = browser.find_element(By.XPATH, f"//table[@id='tasks']//tr[td[text()='{second}']]")
    click_and_load(browser, row.find_element(By.XPATH, ".//button[text()='Delete']"))
    assert f"Task {second} deleted." in text(browser)
    assert len(browser.find_elements(By.CSS_SELECTOR, "#tasks tbody tr")) == 1

    click_and_load(browser, browser.find_element(By.ID, "purge"))
    assert "Purged" in text(browser)
    assert browser.find_element(By.ID, "no-tasks").is_displayed()
    screenshot(browser, "queue-purged")


def test_pause_and_resume_a_queue(runner: Running, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    browser.get(console(runner) + "/queues/work")
    assert browser.find_element(By.ID, "state").text == "RUNNING"
    click_and_load(browser, browser.find_element(By.ID, "pause"))
    assert "Paused." in text(browser) and browser.find_element(By.ID, "state").text == "PAUSED"
    click_and_load(browser, browser.find_element(By.ID, "resume"))
    assert "Resumed." in text(browser) and browser.find_element(By.ID, "state").text == "RUNNING"


def test_pages_of_a_kind_and_a_named_database(runner: Running, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    app_json(runner, "POST", "/notes/30?db=second")
    browser.get(console(runner) + "/datastore")
    browser.find_element(By.NAME, "db").send_keys("second")
    click_and_load(browser, browser.find_element(By.XPATH, "//button[text()='Show']"))
    assert "Note 30" in browser.find_element(By.ID, "kinds").text
    click_and_load(browser, browser.find_element(By.LINK_TEXT, "Note"))
    first = [a.text for a in browser.find_elements(By.CSS_SELECTOR, "#entities tbody td.mono a")]
    assert first == [f"Note:{n}" for n in range(1, 26)]  # 25 a page, in key order
    click_and_load(browser, browser.find_element(By.ID, "next-page"))
    rest = [a.text for a in browser.find_elements(By.CSS_SELECTOR, "#entities tbody td.mono a")]
    assert rest == [f"Note:{n}" for n in range(26, 31)] and not browser.find_elements(By.ID, "next-page")
    click_and_load(browser, browser.find_element(By.LINK_TEXT, "Note:30"))
    assert "database second" in text(browser)
    browser.get(console(runner) + "/datastore")
    assert "Note" not in browser.find_element(By.TAG_NAME, "main").text  # the default database has none


def test_namespaces_filters_orders_deleting_a_kind_and_reset(runner: Running, browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    for name, price in (("cup", 3), ("pan", 30), ("pot", 20)):
        app_json(runner, "POST", f"/items/{name}?price={price}")
    browser.get(console(runner) + "/datastore/kind/Item?prop=price&op=>=&value=20&order=-price")
    keys = [a.text for a in browser.find_elements(By.CSS_SELECTOR, "#entities tbody td.mono a")]
    assert keys == ['Item:"pan"', 'Item:"pot"']
    browser.get(console(runner) + "/datastore/kind/Item?prop=price&op==&value=20&order=title")
    assert "needs a composite index" in text(browser)  # the console never adds to the app's index.yaml
    assert app_json(runner, "GET", "/items?on_sale=false")["items"] == ["pan", "pot", "cup"]
    browser.get(console(runner) + "/datastore/indexes")
    screenshot(browser, "indexes")
    recorded = browser.find_element(By.ID, "recorded").text
    assert "kind: Item" in recorded and "name: on_sale" in recorded and "direction: desc" in recorded
    assert recorded in browser.find_element(By.ID, "index-yaml").get_attribute("value")

    app_json(runner, "POST", "/items/mug?ns=tenant-a")
    browser.get(console(runner) + "/datastore")
    Select(browser.find_element(By.NAME, "ns")).select_by_visible_text("tenant-a")
    click_and_load(browser, browser.find_element(By.XPATH, "//button[text()='Show']"))
    kinds = browser.find_element(By.ID, "kinds").text
    assert "Item 1" in kinds and "Shop 1" in kinds
    click_and_load(browser, browser.find_element(By.XPATH, "//button[@value='Item']"))  # delete the kind's entities
    assert "Deleted 1 Item entities." in text(browser) and "Item" not in browser.find_element(By.ID, "kinds").text
    browser.get(console(runner) + "/datastore")
    assert "Item 3" in browser.find_element(By.ID, "kinds").text  # the default namespace's are untouched
    click_and_load(browser, browser.find_element(By.ID, "reset"))
    assert "every entity is gone" in text(browser) and "No entities here yet." in text(browser)
    assert runner.request("GET", "/items/cup")[0] == 404
