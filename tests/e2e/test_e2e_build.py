"""In a real browser: the Build page shows the live summary of a template and follows a template change."""

import re

from playwright.sync_api import expect

from tests.e2e.conftest import ARTIFACTS


def metric_value(page, label: str):
    return page.locator('[data-testid="stMetric"]').filter(has_text=label).locator('[data-testid="stMetricValue"]')


def test_build_page_shows_summary_and_switches_template(page, server):
    page.goto(server)
    expect(metric_value(page, "Total params")).to_have_text("243", timeout=60_000)
    expect(page.get_by_role("heading", name="iris_mlp")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "build-iris.png"), full_page=True)

    page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').click()
    page.get_by_role("option", name=re.compile("CIFAR-10 CNN")).click()
    page.get_by_role("button", name="New from template").click()
    expect(metric_value(page, "Total params")).to_have_text("122,570", timeout=30_000)
    expect(page.get_by_role("heading", name="cifar_cnn")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "build-cifar.png"), full_page=True)
