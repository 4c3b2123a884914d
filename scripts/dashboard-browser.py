#!/usr/bin/env python3
"""Drives Ferry's /dashboard in headless Chromium for the test suite (DashboardTests), like a person would.

Python standard library only. Chromium speaks the DevTools protocol over a pipe (--remote-debugging-pipe:
commands on fd 3, answers on fd 4, each message JSON ending in a NUL byte), so no port is opened and nothing
else can reach the browser. The app key and secret arrive on stdin (never in argv, where `ps` would show
them) and are typed into the sign-in form: the page itself has no other way in for credentials.

stdin: {"url", "key", "secret", "expect": [{"job_id", "status"}], "chart_job", "cancel_job", "out_dir"}
stdout: one JSON object with what the page showed (rows, checks, screenshot paths, console errors).
Every wait is bounded; Chromium is started in its own process group and stopped by its PID on every exit.
"""

import base64
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

WIDTH = 1280
HEIGHT = 720


class Browser:
    def __init__(self, profile):
        command_read, command_write = os.pipe()
        answer_read, answer_write = os.pipe()
        # Move the child's ends out of the way of fds 3 and 4 so dup2 onto them always makes a new descriptor.
        child_read = fcntl.fcntl(command_read, fcntl.F_DUPFD_CLOEXEC, 20)
        child_write = fcntl.fcntl(answer_write, fcntl.F_DUPFD_CLOEXEC, 20)
        os.close(command_read)
        os.close(answer_write)

        def wire():
            os.dup2(child_read, 3)
            os.dup2(child_write, 4)

        executable = shutil.which("chromium") or shutil.which("chromium-browser")
        if executable is None:
            raise RuntimeError("chromium is not installed (make deps installs it)")
        self.process = subprocess.Popen(
            [
                executable, "--headless=new", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
                f"--user-data-dir={profile}", f"--window-size={WIDTH},{HEIGHT}", "--hide-scrollbars",
                "--force-device-scale-factor=1", "--no-first-run", "--no-default-browser-check",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-extensions", "--disable-default-apps", "--mute-audio", "--lang=en-GB",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=wire, pass_fds=(3, 4), start_new_session=True,
        )
        os.close(child_read)
        os.close(child_write)
        self.commands = command_write
        self.answers = answer_read
        self.buffer = b""
        self.next_id = 0
        self.events = []
        self.session = None

    def stop(self):
        """Asks Chromium to close, then ends its process group (its PID) if it has not gone in 5 s."""
        try:
            if self.process.poll() is None:
                try:
                    self.send("Browser.close", session=False, timeout=3)
                except Exception:
                    pass
                try:
                    self.process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
        finally:
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
            else:
                # The browser's helpers share its process group; any left behind go with it.
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            for fd in (self.commands, self.answers):
                try:
                    os.close(fd)
                except OSError:
                    pass

    def _read_message(self, deadline):
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from chromium")
            ready, _, _ = select.select([self.answers], [], [], left)
            if ready:
                chunk = os.read(self.answers, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed the DevTools pipe")
                self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def send(self, method, params=None, session=True, timeout=10):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self.commands, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            answer = self._read_message(deadline)
            if answer.get("id") == self.next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            if "method" in answer:
                self.events.append(answer)

    def evaluate(self, expression):
        result = self.send(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails'].get('text')}: {expression[:80]}")
        return result.get("result", {}).get("value")

    def wait_for(self, expression, timeout):
        """Polls `expression` every 100 ms until it is truthy; returns its last value (falsy on timeout)."""
        deadline = time.monotonic() + timeout
        value = self.evaluate(expression)
        while not value and time.monotonic() < deadline:
            time.sleep(0.1)
            value = self.evaluate(expression)
        return value

    def screenshot(self, path, clip=None):
        params = {"format": "png", "captureBeyondViewport": True}
        if clip:
            params["clip"] = dict(clip, scale=1)
        data = self.send("Page.captureScreenshot", params, timeout=20)["data"]
        with open(path, "wb") as file:
            file.write(base64.b64decode(data))
        return path


ROWS = """JSON.stringify([...document.querySelectorAll('#job-rows tr')].map((tr) => ({
  job_id: tr.dataset.jobId, status: tr.dataset.status, phase: tr.cells[3].textContent,
  progress: tr.querySelector('progress').value, error: tr.cells[8].textContent,
  cancel: !!tr.querySelector('button.cancel:not([hidden])')})))"""


def rows(browser):
    return json.loads(browser.evaluate(ROWS))


def row_selector(job_id):
    return f"tr[data-job-id={json.dumps(job_id)}]"


def main():
    config = json.load(sys.stdin)
    report = {"screenshots": []}
    profile = tempfile.mkdtemp(prefix="ferry-chromium-")
    browser = None
    # SIGTERM from the test (its time limit) runs the finally below, so Chromium never outlives this script.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(3))
    try:
        browser = Browser(profile)
        page = next(t for t in browser.send("Target.getTargets", session=False)["targetInfos"] if t["type"] == "page")
        browser.session = browser.send(
            "Target.attachToTarget", {"targetId": page["targetId"], "flatten": True}, session=False)["sessionId"]
        for method in ("Page.enable", "Runtime.enable", "Log.enable"):
            browser.send(method)
        browser.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False})
        browser.send("Page.navigate", {"url": config["url"]})
        report["loaded"] = bool(browser.wait_for(
            "document.readyState === 'complete' && !!document.getElementById('login-form')", 10))

        # Without credentials: the sign-in form and nothing else.
        report["before_sign_in"] = browser.evaluate(
            "({rows: document.querySelectorAll('#job-rows tr').length, jobs_hidden: document.getElementById('jobs').hidden,"
            " detail_hidden: document.getElementById('detail').hidden,"
            " login_shown: !document.getElementById('login').hidden})")
        browser.screenshot(os.path.join(config["out_dir"], "dashboard-sign-in.png"),
                           {"x": 0, "y": 0, "width": WIDTH, "height": 360})
        report["screenshots"].append("dashboard-sign-in.png")

        # Typed in like a person would, then the form's own button.
        browser.evaluate("document.getElementById('key').focus()")
        browser.send("Input.insertText", {"text": config["key"]})
        browser.evaluate("document.getElementById('secret').focus()")
        browser.send("Input.insertText", {"text": config["secret"]})
        browser.evaluate("document.getElementById('login-button').click()")

        expected = sorted((job["job_id"], job["status"]) for job in config["expect"])
        match = (
            f"(() => {{ const rows = {ROWS.replace('JSON.stringify', '')};"
            f" const seen = rows.map((r) => [r.job_id, r.status]).sort();"
            f" return JSON.stringify(seen) === {json.dumps(json.dumps([list(pair) for pair in expected], separators=(',', ':')))}"
            f" && rows.every((r) => r.phase !== ''); }})()")
        report["rows_matched_in_time"] = bool(browser.wait_for(match, 15))
        report["rows"] = rows(browser)

        secret = json.dumps(config["secret"])
        report["secret"] = browser.evaluate(
            f"({{in_html: document.documentElement.outerHTML.includes({secret}),"
            f" in_text: document.body.innerText.includes({secret}),"
            f" field_length: document.getElementById('secret').value.length,"
            f" local_storage: localStorage.length, session_storage: sessionStorage.length,"
            f" cookies: document.cookie.length}})")

        height = browser.evaluate("Math.ceil(document.querySelector('main').getBoundingClientRect().bottom)")
        browser.screenshot(os.path.join(config["out_dir"], "dashboard-jobs.png"),
                           {"x": 0, "y": 0, "width": WIDTH, "height": min(max(height, 200), 1200)})
        report["screenshots"].append("dashboard-jobs.png")

        # The analyze job's detail view and its chart.
        browser.evaluate(f"document.querySelector({json.dumps(row_selector(config['chart_job']) + ' button.details')}).click()")
        points = browser.wait_for(
            "(() => { const line = document.querySelector('#detail-body svg.chart polyline.loudness');"
            " return line ? line.getAttribute('points').trim().split(/\\s+/).length : 0; })()", 10)
        report["chart"] = browser.evaluate(
            "({points: " + json.dumps(points or 0) + ","
            " integrated: !!document.querySelector('#detail-body svg.chart line.integrated'),"
            " title: document.getElementById('detail-title').textContent,"
            " summary: document.querySelector('#detail-body .summary') ?"
            "   document.querySelector('#detail-body .summary').innerText : ''})")
        if points:
            clip = browser.evaluate(
                "(() => { const top = document.getElementById('detail').getBoundingClientRect();"
                " const chart = document.querySelector('#detail-body svg.chart').getBoundingClientRect();"
                " return {x: 0, y: Math.floor(top.top + window.scrollY) - 8, width: " + str(WIDTH) + ","
                " height: Math.ceil(chart.bottom - top.top) + 24}; })()")
            browser.screenshot(os.path.join(config["out_dir"], "dashboard-chart.png"), clip)
            report["screenshots"].append("dashboard-chart.png")

        # The cancel button of the running job, then the row follows the job to Cancelled.
        cancel = json.dumps(row_selector(config["cancel_job"]) + " button.cancel:not([hidden])")
        report["cancel_button"] = bool(browser.evaluate(f"!!document.querySelector({cancel})"))
        if report["cancel_button"]:
            browser.evaluate(f"document.querySelector({cancel}).click()")
            status = json.dumps(row_selector(config["cancel_job"]))
            report["cancelled_row"] = browser.wait_for(
                f"(() => {{ const tr = document.querySelector({status});"
                f" return tr && tr.dataset.status === 'Cancelled' ? tr.dataset.status : ''; }})()", 10)
        report["rows_after_cancel"] = rows(browser)

        # Console errors and CSP violations the page caused (a missing favicon is not the page's).
        problems = []
        for event in browser.events:
            if event.get("method") == "Log.entryAdded":
                entry = event["params"]["entry"]
                if entry.get("level") == "error" and not entry.get("url", "").endswith("/favicon.ico"):
                    problems.append(entry.get("text", ""))
            elif event.get("method") == "Runtime.exceptionThrown":
                problems.append(event["params"]["exceptionDetails"].get("text", "exception"))
            elif event.get("method") == "Runtime.consoleAPICalled" and event["params"].get("type") == "error":
                problems.append(" ".join(str(a.get("value", "")) for a in event["params"].get("args", [])))
        report["console_errors"] = problems
    except Exception as error:  # reported to the test, which fails with it
        report["error"] = f"{type(error).__name__}: {error}"
    finally:
        if browser is not None:
            browser.stop()
        shutil.rmtree(profile, ignore_errors=True)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
