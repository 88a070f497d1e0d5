"""Loading the app sends nothing off the machine, except gradio's own iframe-resizer script tag (README)."""

from __future__ import annotations

from urllib.parse import urlsplit

# gradio's page template (gradio/templates/frontend/index.html) hard-codes this script; it only resizes an
# embedding iframe and the README names it.
GRADIO_OWN = {"https://cdnjs.cloudflare.com/ajax/libs/iframe-resizer/4.3.1/iframeResizer.contentWindow.min.js"}


def test_loading_the_app_requests_nothing_outside_this_machine(browser, app_url):
    page = browser.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.route(
        "**/*",
        lambda route: (
            route.continue_() if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost") else route.abort()
        ),
    )
    page.goto(app_url)
    page.wait_for_selector("text=Discord Echo")
    page.wait_for_timeout(1500)
    page.close()
    outside = {
        u
        for u in requested
        if urlsplit(u).scheme in ("http", "https") and urlsplit(u).hostname not in ("127.0.0.1", "localhost")
    }
    assert not any("fonts.googleapis.com" in u or "fonts.gstatic.com" in u for u in outside)
    assert outside <= GRADIO_OWN, sorted(outside - GRADIO_OWN)
    assert any(u.startswith(app_url) for u in requested)
