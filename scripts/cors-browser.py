#!/usr/bin/env python3
"""A browser app on another origin against Ferry, in headless Chromium, for the test suite
(CrossOriginBrowserTests): the page scripts/cors-page/ is served from a second loopback port, gets a token from
Ferry and runs an enhance job with fetch, as Dolby's browser samples do.

Python standard library only; Chromium is driven through the DevTools pipe by dashboard-browser.py's Browser
(started in its own process group, stopped by its PID on every exit). The page server listens on 127.0.0.1
only and is shut down on every exit.

stdin: {"ferry", "key", "secret", "input", "output"}
stdout: one JSON object: the page's report, its origin, console errors, and whether the page could read
Ferry's /health (it must not: that path is same-origin only).
"""

import functools
import http.server
import importlib.util
import json
import os
import shutil
import signal
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))


def load_browser():
    spec = importlib.util.spec_from_file_location("dashboard_browser", os.path.join(HERE, "dashboard-browser.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Browser


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def console_errors(events, expected_urls):
    """Errors the page logged, except network errors for `expected_urls` (the 401 it asks for on purpose)."""
    problems = []
    for event in events:
        if event.get("method") == "Log.entryAdded":
            entry = event["params"]["entry"]
            url = entry.get("url", "")
            if entry.get("level") == "error" and not url.endswith("/favicon.ico") and url not in expected_urls:
                problems.append(f"{entry.get('text', '')} ({url})")
        elif event.get("method") == "Runtime.exceptionThrown":
            problems.append(event["params"]["exceptionDetails"].get("text", "exception"))
    return problems


def main():
    config = json.load(sys.stdin)
    report = {}
    profile = tempfile.mkdtemp(prefix="ferry-chromium-cors-")
    browser = None
    pages = None
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(3))
    try:
        handler = functools.partial(QuietHandler, directory=os.path.join(HERE, "cors-page"))
        pages = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=pages.serve_forever, daemon=True).start()
        page_url = f"http://127.0.0.1:{pages.server_address[1]}/index.html"

        browser = load_browser()(profile)
        page = next(t for t in browser.send("Target.getTargets", session=False)["targetInfos"] if t["type"] == "page")
        browser.session = browser.send(
            "Target.attachToTarget", {"targetId": page["targetId"], "flatten": True}, session=False)["sessionId"]
        for method in ("Page.enable", "Runtime.enable", "Log.enable"):
            browser.send(method)
        browser.send("Page.navigate", {"url": page_url})
        report["loaded"] = bool(browser.wait_for(
            "document.readyState === 'complete' && typeof runEnhance === 'function'", 10))

        flow = {k: config[k] for k in ("ferry", "key", "secret", "input", "output")}
        browser.evaluate(
            f"runEnhance({json.dumps(flow)}).then((r) => {{ window.report = r; }},"
            " (e) => { window.report = {error: String(e)}; }); true")
        # The page's own loop is bounded (240 polls of 250 ms); this wait is bounded above it.
        done = browser.wait_for("window.report ? JSON.stringify(window.report) : ''", 90)
        report["page"] = json.loads(done) if done else {"error": "the page did not finish in 90 s"}
        report["console_errors"] = console_errors(browser.events, {config["ferry"] + "/media/jobs"})

        report["health"] = browser.evaluate(f"readHealth({json.dumps(config['ferry'])})")
    except Exception as error:  # reported to the test, which fails with it
        report["error"] = f"{type(error).__name__}: {error}"
    finally:
        if browser is not None:
            browser.stop()
        if pages is not None:
            pages.shutdown()
            pages.server_close()
        shutil.rmtree(profile, ignore_errors=True)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
