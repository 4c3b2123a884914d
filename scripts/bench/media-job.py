# scripts/bench-media.sh: submits one job and polls it; prints the seconds from the POST to Success (exits
# with the status otherwise). Arguments: port, access token, route path, JSON body.
import json, sys, time, urllib.request, uuid
port, token, path, body = sys.argv[1:]
# A fresh Idempotency-Key: the same body again within 10 minutes would otherwise answer the earlier job.
key = str(uuid.uuid4())
def call(method, url, data=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{url}", data=data, method=method,
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                                          "Idempotency-Key": key})
    return json.load(urllib.request.urlopen(req))
start = time.monotonic()
job = call("POST", path, body.encode())["job_id"]
while True:
    status = call("GET", f"{path}?job_id={job}")
    if status["status"] not in ("Pending", "Running"): break
    time.sleep(0.02)
if status["status"] != "Success": sys.exit(f"job ended {status['status']}: {status.get('error')}")
print(f"{time.monotonic() - start:.3f}")
