"""The regional bulletin in a real browser (issue 19): what a screen reader finds
(landmarks, named sections, headings in order), the PDF button, and the whole page in
Georgian when that is the page's language."""

from __future__ import annotations

import re

import pytest

from tests.e2e.test_map_page import sign_in, watch_console

pytestmark = [pytest.mark.e2e]

SECTIONS_KA = ["შეჯამება", "რუკა", "საზღვრის მონაკვეთები რისკის მიხედვით", "ტენდენციები",
               "გაფრთხილებები", "ზედამხედველთა გადაწყვეტილებები", "მეთოდი და კონფიგურაცია"]


def test_the_georgian_bulletin_has_landmarks_and_a_pdf_in_georgian(page, live_server):
    sign_in(page, live_server, role="viewer")
    problems = watch_console(page)
    response = page.goto(f"{live_server}/api/v1/reports/bulletin?region=T-KK&lang=ka")
    assert response.status == 200
    assert page.get_attribute("html", "lang") == "ka"

    # one banner, one main, the contents as a named navigation
    assert page.get_by_role("banner").count() == 1
    assert page.get_by_role("main").count() == 1
    contents = page.get_by_role("navigation", name="ბიულეტენის შინაარსი")
    assert contents.get_by_role("link").all_inner_texts() == SECTIONS_KA
    # every section a region named by its heading, in the page's order
    main = page.get_by_role("main")
    for name in SECTIONS_KA:
        assert main.get_by_role("region", name=name, exact=True).count() == 1
    assert page.get_by_role("heading", level=1).all_inner_texts() == [
        "რეგიონული რისკის ბიულეტენი: სატესტო რეგიონი (T-KK)"]
    assert page.get_by_role("heading", level=2).all_inner_texts() == SECTIONS_KA
    # the contents lead to the sections
    contents.get_by_role("link", name="ტენდენციები").click()
    assert page.url.endswith("#trends-heading")

    # the map: a scale bar named in Georgian, the legend beside it
    scale = page.get_by_role("img", name=re.compile(r"^მასშტაბი: ხაზი ადგილზე \d+ k?m-ია$"))
    assert scale.count() == 1
    assert "სასაზღვრო გამშვები პუნქტი" in page.locator(".legend").inner_text()

    # the PDF button: the same bulletin as a Georgian PDF
    button = page.get_by_role("link", name="PDF-ად ჩამოტვირთვა")
    href = button.get_attribute("href")
    assert "f=pdf" in href and "lang=ka" in href and "region=T-KK" in href
    pdf = page.request.get(f"{live_server}{href}")
    assert pdf.status == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.body().startswith(b"%PDF-")
    assert problems == []
