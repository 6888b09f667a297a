"""Partner scorecards in a real headless Chromium (Debian's chromium, driven by Playwright):
the tier is visible and nothing is wider than an A4 or Letter page, on screen and in print."""

from __future__ import annotations

import shutil
from datetime import date

import pytest
from db_builder import seat_team
from publish_builder import mitel

from tiertui.services import report
from tiertui.services.imports import import_file
from tiertui.services.levelling import run_levelling
from tiertui.storage import open_engine

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")

# CSS pixels (96 per inch) of the printable width: A4 210 mm and Letter 8.5 in, less the 12 mm margins
PAGES = {"A4": (794, 210), "Letter": (816, 215.9)}
LONG_NAME = "Northwind" * 40  # one unbroken word, far wider than a page


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scorecards")
    engine = open_engine(f"sqlite:///{folder / 'db.sqlite'}")
    seat_team(engine)
    mitel(engine, folder, rename={"M2": LONG_NAME, "M5": "<b>Prairie</b> & Voice"}, level=False)
    lapsing = folder / "lapsing.csv"  # M5 at risk only by lapse risk: its installers' certifications expire in 2015-Q2
    lapsing.write_text(
        "partner_id,person,certification,track,earned_on,expires_on\n"
        "M5,Kai Wong,MiVoice Business Installation,installation,2014-08-01,2015-05-15\n"
        "M5,Lia Moss,MiVoice Business Installation,installation,2014-05-01,2015-06-01\n"
        f"M5,{LONG_NAME},MiVoice Business Installation,installation,2014-05-01,2015-06-20\n",
        encoding="utf-8",
    )
    import_file(engine, "certifications", lapsing, "ann")
    run_levelling(engine, "ann")
    report.write_report(engine, "2015-Q1", folder / "out", today=date(2015, 4, 10))
    engine.dispose()
    return folder / "out"


OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const wide = [];
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.width > 0 && (r.right > width + 0.5 || r.left < -0.5)) wide.push(el.tagName + ' ' + (el.id || el.className));
  }
  return {scroll: document.documentElement.scrollWidth, width, wide};
}"""


@pytest.mark.parametrize("size", list(PAGES))
def test_tier_visible_and_nothing_overflows(pages, size, tmp_path):
    from playwright.sync_api import sync_playwright

    width, _mm = PAGES[size]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": width, "height": 1123})
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        for name, tier in (("M1.html", "Platinum"), ("M2.html", "Gold"), ("M5.html", "Silver"), ("index.html", None)):
            page.goto((pages / name).as_uri())
            for media in ("screen", "print"):
                page.emulate_media(media=media)
                if tier:
                    badge = page.locator("#tier")
                    assert badge.is_visible() and badge.inner_text() == tier
                box = page.evaluate(OVERFLOW)
                assert box["scroll"] <= box["width"] and not box["wide"], (name, media, box)
            if name == "M5.html":
                assert page.locator("h1").inner_text() == "<b>Prairie</b> & Voice"  # text, not markup
                lapse = page.locator("#lapse")  # the lapse risk, in words, with who and when
                assert lapse.is_visible() and "Kai Wong" in lapse.inner_text() and "2015-06-01" in lapse.inner_text()
                assert "you would have 0 of 1" in lapse.inner_text()
                page.screenshot(path=str(tmp_path / "M5.png"), full_page=True)
            page.pdf(path=str(tmp_path / f"{name}.pdf"), format=size, print_background=True)
        page.goto((pages / "M2.html").as_uri())
        page.screenshot(path=str(tmp_path / "M2.png"), full_page=True)
        browser.close()
    assert all(url.startswith("file://") for url in requests)  # no network fetch of any kind
    assert (tmp_path / "M1.html.pdf").stat().st_size > 1000
