"""Uploads in a real browser: a broken CSV gets its message, a good one is previewed and checked against the model."""

from playwright.sync_api import expect

from tests.e2e.helpers import metric_value, open_uploader, settle


def test_csv_upload_error_then_success(page, server, tmp_path):
    bad = tmp_path / "flowers.csv"
    bad.write_text("a,b,c,d,species\n" + "".join(f"{i},{i % 3},,{i % 5},x{i % 2}\n" for i in range(30)))
    good = tmp_path / "flowers_ok.csv"
    good.write_text("a,b,c,d,species\n" + "".join(
        f"{i % 7},{i % 3},{(i * 7) % 11},{i % 5},{['setosa', 'versicolor', 'virginica'][i % 3]}\n" for i in range(60)))
    uploader = open_uploader(page, server)
    uploader.set_input_files(str(bad))
    expect(page.get_by_text("missing values")).to_be_visible(timeout=60_000)
    expect(page.get_by_text("'c'").first).to_be_visible()
    settle(page)
    uploader.set_input_files(str(good))
    expect(metric_value(page, "Train / test samples")).to_have_text("48 / 12", timeout=60_000)
    expect(page.get_by_text("missing values")).to_have_count(0)
    expect(page.get_by_text("The model fits this data")).to_be_visible()
    # The upload is kept with the project: a reload (a new session) finds the same data, read the same way.
    expect(page.get_by_text("Using: upload: flowers_ok.csv")).to_be_visible()
    page.reload()
    expect(page.get_by_text("Using: upload: flowers_ok.csv")).to_be_visible(timeout=120_000)
    expect(metric_value(page, "Train / test samples")).to_have_text("48 / 12")
    expect(page.get_by_text("The model fits this data")).to_be_visible()
    # The label column is the project's too: choosing another one reads the kept file again.
    label = page.locator('[data-testid="stMain"] [data-testid="stSelectbox"]').filter(has_text="Label column")
    label.click()
    page.get_by_role("option", name="d", exact=True).click()
    expect(metric_value(page, "Classes")).to_have_text("5", timeout=60_000)  # d holds 5 whole numbers: 5 classes
    settle(page)
    page.reload()
    expect(metric_value(page, "Classes")).to_have_text("5", timeout=120_000)
    expect(page.get_by_text("Using: upload: flowers_ok.csv")).to_be_visible()
