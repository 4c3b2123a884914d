#!/usr/bin/env python3
"""Runs every media function of Dolby's own Python client (PyPI dolbyio-rest-apis, pinned in
requirements-test.txt) against a live Ferry, unchanged but for the base URL: the client's URL functions
(dolbyio_rest_apis.core.urls) are pointed at $FERRY before its media modules import them.

Prints one line per check: PASS, XFAIL (fails as recorded, with the reason and the issue that fixes it),
FAIL, or XPASS (an expected failure that now works: take it out of EXPECTED). Exits 1 on any FAIL or XPASS.

Environment: FERRY (base URL), KEY and SECRET (an app), WORK (a folder holding fixture.wav and fixture.mp4),
WEBHOOK (a URL that answers 2xx).
"""

import asyncio
import json
import os
import sys
import time

FERRY = os.environ["FERRY"].rstrip("/")
WORK = os.environ["WORK"]

# The only change: where the client sends its requests. Its media modules bind these functions when they are
# imported, so this comes first.
from dolbyio_rest_apis.core import urls  # noqa: E402

urls.get_api_url = lambda: f"{FERRY}/v1"
urls.get_mapi_url = lambda: FERRY

from dolbyio_rest_apis.core.http_request_error import HttpRequestError  # noqa: E402
from dolbyio_rest_apis.media import (  # noqa: E402
    analyze,
    analyze_music,
    analyze_speech,
    authentication,
    diagnose,
    enhance,
    io,
    jobs,
    mastering,
    transcode,
    webhooks,
)

# Checks expected to fail, with why and what fails: ("http", status) for an HttpRequestError with that status,
# ("missing", None) for a field that is not there, ("error", ExceptionType) for the client's own failure.
EXPECTED = {
    # The client's own bug in 5.0.0: it calls the coroutine _list_jobs without await, then reads next_token
    # from the coroutine. Whatever the server answers, this raises.
    "jobs.list_all_jobs": ("client bug: list_all_jobs does not await _list_jobs", ("error", AttributeError)),
}


class Missing(Exception):
    """A field the client's model reads is not in the answer."""


results = []


async def check(name, action):
    """Runs `action` (a coroutine function returning a note or None) and records the outcome for `name`."""
    expected = EXPECTED.get(name)
    try:
        note = await action()
    except Exception as error:  # noqa: BLE001 - every failure is reported, none is fatal
        failure = describe(error)
        if expected and matches(error, expected[1]):
            results.append(("XFAIL", name, f"{expected[0]} ({failure})"))
        else:
            results.append(("FAIL", name, failure))
        return None
    if expected:
        results.append(("XPASS", name, f"expected to fail ({expected[0]}) but works now{': ' + note if note else ''}"))
    else:
        results.append(("PASS", name, note or ""))
    return note


def matches(error, how):
    kind, value = how
    if kind == "http":
        return isinstance(error, HttpRequestError) and error.status_code == value
    if kind == "missing":
        return isinstance(error, Missing)
    return isinstance(error, value)


def describe(error):
    if isinstance(error, HttpRequestError):
        return f"HTTP {error.status_code} {error.error_type}: {error.error_description}"
    return f"{type(error).__name__}: {error}"


def require(condition, what):
    if not condition:
        raise AssertionError(what)


async def wait(get_results, token, job_id):
    """Polls as the client's README does (a pause between polls), bounded."""
    deadline = time.monotonic() + 90
    while True:
        job = await get_results(token, job_id)
        if job.status not in ("Pending", "Running"):
            return job
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job_id} still {job.status} after 90 s")
        await asyncio.sleep(0.3)


async def main():
    state = {}

    async def token():
        at = await authentication.get_api_token(os.environ["KEY"], os.environ["SECRET"], 2 * 60 * 60)
        require(at.token_type == "Bearer" and at.access_token, f"token answer {dict(at)}")
        require(at.expires_in_val == 7200, f"expires_in {at.expires_in_val}, asked 7200")
        state["token"] = at.access_token

    await check("authentication.get_api_token", token)
    if "token" not in state:
        return
    t = state["token"]

    # Webhooks first: registered while jobs run, the receiver would get their deliveries.
    async def register():
        state["webhook"] = await webhooks.register_webhook(t, os.environ["WEBHOOK"], {"x-corpus": "python"})
        require(state["webhook"], "no webhook_id")

    async def retrieve():
        hook = await webhooks.retrieve_webhook(t, state["webhook"])
        require(hook.webhook_id == state["webhook"] and hook.url == os.environ["WEBHOOK"], f"got {dict(hook)}")

    async def update():
        await webhooks.update_webhook(t, state["webhook"], os.environ["WEBHOOK"] + "?updated=1")
        hook = await webhooks.retrieve_webhook(t, state["webhook"])
        require(hook.url.endswith("?updated=1"), f"after update {dict(hook)}")

    async def delete():
        deleted = await webhooks.delete_webhook(t, state["webhook"])
        require(deleted == state["webhook"], f"delete answered {deleted}")

    await check("webhooks.register_webhook", register)
    if "webhook" in state:
        await check("webhooks.retrieve_webhook", retrieve)
        await check("webhooks.update_webhook", update)
        await check("webhooks.delete_webhook", delete)

    # The README's flow: upload to dlb://, enhance, wait, download.
    async def upload(key, path):
        url = await io.get_upload_url(t, key)
        require(url and url.startswith("http"), f"upload url {url!r}")
        await io.upload_file(url, path)
        return url

    async def uploads():
        await upload("dlb://in/file.wav", f"{WORK}/fixture.wav")
        await upload("dlb://in/file.mp4", f"{WORK}/fixture.mp4")

    await check("io.get_upload_url + io.upload_file", uploads)

    unknown = "00000000-0000-4000-8000-000000000000"

    def named(function):
        return f"{function.__module__.rsplit('.', 1)[-1]}.{function.__name__}"

    async def run(start_job, get_results, path, body):
        """start_job, then get_results on that job (on an unknown one when start_job failed, so the function
        still runs) until it ends; then the result's version."""
        name = named(start_job)

        async def start():
            state[name] = await start_job(t, json.dumps(body, indent=4))
            require(state[name], "no job_id")

        async def results():
            job = await wait(get_results, t, state.get(name, unknown))
            require(job.status == "Success", f"ended {job.status}: {getattr(job, 'error', None)}")
            require(job.progress == 100 and job.path == path, f"progress {job.progress}, path {job.path}")
            state[name + "-job"] = job

        await check(name, start)
        await check(named(get_results), results)

        async def version():
            job = state[name + "-job"]
            if not (job.result or {}).get("version"):
                raise Missing(f"result has {sorted((job.result or {}).keys())}")

        if name + "-job" in state:
            await check(f"{named(get_results)} result.version", version)

    await run(
        enhance.start, enhance.get_results, "/media/enhance",
        {"input": "dlb://in/file.wav", "output": "dlb://out/file.wav", "content": {"type": "podcast"}})

    async def download():
        path = f"{WORK}/downloaded.wav"
        await io.download_file(t, "dlb://out/file.wav", path)
        with open(path, "rb") as f:
            head = f.read(12)
        require(head[:4] == b"RIFF" and head[8:12] == b"WAVE", f"downloaded {head!r}")

    await check("io.download_file", download)

    await run(
        analyze.start, analyze.get_results, "/media/analyze", {"input": "dlb://in/file.wav"})
    await run(
        diagnose.start, diagnose.get_results, "/media/diagnose", {"input": "dlb://in/file.mp4"})
    await run(
        transcode.start, transcode.get_results, "/media/transcode",
        {"inputs": [{"source": "dlb://in/file.mp4"}],
         "outputs": [{"id": "mp3", "kind": "mp3", "destination": "dlb://out/file.mp3"}]})

    async def list_jobs():
        page = await jobs.list_jobs(t)
        ids = {job.job_id for job in page.jobs}
        require({state.get("enhance.start"), state.get("analyze.start")} <= ids, f"listed {sorted(ids)}")
        require(page.count == len(page.jobs), f"count {page.count} for {len(page.jobs)} jobs")
        for job in page.jobs:
            require(job.time_submitted and job.expiry and job.api_version, f"job fields {dict(job)}")
        done = await jobs.list_jobs(t, status="Success")
        require(done.jobs and all(job.status == "Success" for job in done.jobs), f"status filter {dict(done)}")

    await check("jobs.list_jobs", list_jobs)

    async def list_all_jobs():
        everything = await jobs.list_all_jobs(t)
        require(len(everything) >= 4, f"listed {len(everything)}")

    await check("jobs.list_all_jobs", list_all_jobs)

    async def cancel():
        job_id = await enhance.start(
            t, json.dumps({"input": "dlb://in/file.wav", "output": "dlb://out/cancelled.wav", "content": {"type": "meeting"}}))
        await jobs.cancel(t, job_id)
        job = await wait(enhance.get_results, t, job_id)
        # A job that ended before the cancel arrived keeps its status.
        require(job.status in ("Cancelled", "Success"), f"after cancel: {job.status}")
        return job.status

    await check("jobs.cancel", cancel)

    # The analytics and mastering APIs, with bodies shaped as the client's docs and Dolby's apps send them.
    await run(
        analyze_speech.start, analyze_speech.get_results, "/media/analyze/speech",
        {"input": "dlb://in/file.wav", "output": "dlb://out/speech.json"})
    await run(
        analyze_music.start, analyze_music.get_results, "/media/analyze/music",
        {"input": "dlb://in/file.wav", "output": "dlb://out/music.json"})
    await run(
        mastering.start_preview, mastering.get_preview_results, "/media/master/preview",
        {"inputs": [{"source": "dlb://in/file.wav", "segment": {"start": 0, "duration": 2}}],
         "outputs": [{"destination": "dlb://out/preview.wav",
                      "master": {"dynamic_eq": {"enable": True, "preset": "a"},
                                 "loudness": {"enable": True, "target_level": -14}}}]})
    await run(
        mastering.start, mastering.get_results, "/media/master",
        {"inputs": [{"source": "dlb://in/file.wav"}],
         "outputs": [{"destination": "dlb://out/master.wav",
                      "master": {"dynamic_eq": {"enable": True, "preset": "a", "intensity": 100},
                                 "loudness": {"enable": True, "target_level": -14}}}]})

    # What the client's models read from a mastering result: initial_level (preview and master) and final_level
    # (master), in LUFS.
    async def levels(name, fields):
        job = state[name + "-job"]
        for field in fields:
            value = getattr(job.result, field, None)
            require(isinstance(value, (int, float)) and -70 <= value <= 0, f"{field} {value!r}")
        return ", ".join(f"{field} {getattr(job.result, field)}" for field in fields)

    if "mastering.start_preview-job" in state:
        await check("mastering.get_preview_results result.initial_level",
                    lambda: levels("mastering.start_preview", ["initial_level"]))
    if "mastering.start-job" in state:
        await check("mastering.get_results result.initial_level, final_level",
                    lambda: levels("mastering.start", ["initial_level", "final_level"]))

asyncio.run(main())
for outcome, name, detail in results:
    print(f"{outcome:5} {name}{' - ' + detail if detail else ''}")
missing = sorted(set(EXPECTED) - {name for _, name, _ in results})
for name in missing:
    print(f"FAIL  {name} - expected to fail, but the check never ran")
sys.exit(1 if missing or any(outcome in ("FAIL", "XPASS") for outcome, _, _ in results) else 0)
