"""load.py: ecsboxd and netd under load, in a private sandbox (issue 11, "Faults and load").

  clients [N=1000] [SECONDS=60]   N concurrent API clients (threads, each its own TCP connection per
                                  call, every call SigV4-signed as botocore signs) calling ListClusters,
                                  DescribeClusters, ListTasks and DescribeTasks for SECONDS; every answer
                                  counted by status and error type.
  churn [TASKS=1000] [SECONDS=600] [RETENTION=3600]   TASKS running awsvpc tasks churned (StopTask
                                  of a random tenth, RunTask to refill) for SECONDS, sampling ecsboxd's
                                  and netd's RSS and open fds every 30 s; STOPPED tasks stay describable
                                  for RETENTION seconds (ecsboxd --stopped-retention).

Run as root: /usr/bin/python3 tests/load/load.py clients 1000 60. Prints a summary; exits non-zero when
an answer other than 200 (or an error a real ECS endpoint gives under load: ThrottlingException)
came back, or when ecsboxd's RSS grew by more than 10 % in the third burst (clients), or RSS or fds
grew between the second sample and the last by more than 10 % (churn)."""
import collections
import http.client
import json
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from sandbox import Ecsboxd, Netd, bench_sandbox, httpd_task_definition, pct, rss_kb  # noqa: E402

HELPERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration")

CLIENTS = r'''
import collections, http.client, json, sys, threading, time
sys.path.insert(0, sys.argv[1])
from sandbox import EcsError, ecs_call, sigv4_signer
n, seconds, creds = int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
signer = sigv4_signer(creds)
counts = collections.Counter()
lat = []
lock = threading.Lock()
start = threading.Barrier(n + 1)
deadline = [0.0]
def client(i):
    ops = [("ListClusters", {}), ("DescribeClusters", {"clusters": ["default"]}), ("ListTasks", {}),
           ("DescribeTasks", {"tasks": ["0123456789abcdef0123456789abcdef"]})]
    start.wait()
    k = i
    while time.monotonic() < deadline[0]:
        op, p = ops[k % len(ops)]
        k += 1
        t0 = time.monotonic()
        try:
            ecs_call(http.client.HTTPConnection("127.0.0.1", 5080, timeout=60), op, signer=signer, **p)
            key = "200"
        except EcsError as e:
            key = f"{e.status} {e.type}"
        except OSError as e:
            key = f"connection {type(e).__name__}: {e}"
        dt = time.monotonic() - t0
        with lock:
            counts[key] += 1
            lat.append(dt)
threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(n)]
for t in threads:
    t.start()
deadline[0] = time.monotonic() + seconds
start.wait()
for t in threads:
    t.join(seconds + 120)
lat.sort()
print(json.dumps({"counts": counts, "calls": len(lat), "p50": lat[len(lat) // 2] if lat else None,
                  "p99": lat[int(len(lat) * 0.99)] if lat else None, "alive": sum(t.is_alive() for t in threads)}))
'''


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def run_clients(n, seconds):
    with bench_sandbox(images=True) as sb:
        netd = Netd(sb)
        d = Ecsboxd(sb, sb.images, extra_args=["--log-level", "warning"])
        failed = 0
        rss = [rss_kb(d.pid())]
        # three bursts: memory that a burst's connections take stays as the heap's high-water mark (the
        # first bursts raise it); a leak would keep growing in the third
        for burst in (1, 2, 3):
            fd0 = fds(d.pid())
            p = sb.run(["/usr/bin/python3", "-c", CLIENTS, HELPERS, str(n), str(seconds), d.credentials],
                       timeout=seconds + 600)
            out = json.loads(p.stdout.strip().splitlines()[-1])
            rss.append(rss_kb(d.pid()))
            ok = out["counts"].get("200", 0)
            bad = {k: v for k, v in out["counts"].items() if k != "200" and "ThrottlingException" not in k}
            print(f"burst {burst}: {n} concurrent clients for {seconds:.0f} s: {out['calls']} calls, {ok} answered 200 "
                  f"({out['calls'] / seconds:.0f}/s), latency p50 {out['p50'] * 1e3:.1f} ms p99 {out['p99'] * 1e3:.1f} ms")
            print(f"  other answers: {bad or 'none'}; clients still running: {out['alive']}")
            print(f"  ecsboxd RSS {rss[-2]} -> {rss[-1]} KiB, fds {fd0} -> {fds(d.pid())}")
            failed |= bool(bad or out["alive"])
        if rss[3] > rss[2] * 1.10:
            print(f"ecsboxd RSS grew again in the third burst: {rss}")
            failed = 1
        return 1 if failed else 0


def run_churn(tasks, seconds, retention):
    with bench_sandbox(images=True) as sb:
        netd = Netd(sb)
        d = Ecsboxd(sb, sb.images, extra_args=["--log-level", "warning", "--stopped-retention", str(retention)])
        sg = netd.ok("DescribeSecurityGroups")["SecurityGroups"][0]["GroupId"]
        netd.ok("AuthorizeSecurityGroupIngress", GroupId=sg, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "100.64.0.0/10"}]}])
        d.call("RegisterTaskDefinition", **httpd_task_definition())
        rng = random.Random(11)
        running = []

        def fill():
            while len(running) < tasks:
                r = d.call("RunTask", taskDefinition="web", count=min(10, tasks - len(running)))
                running.extend(t["taskArn"] for t in r["tasks"])
                if r["failures"]:
                    raise SystemExit(f"RunTask failures: {r['failures']}")
        t0 = time.monotonic()
        fill()
        d.wait_task(running[-1], timeout=600)
        print(f"{tasks} tasks started in {time.monotonic() - t0:.1f} s")
        samples, churned = [], 0
        end = time.monotonic() + seconds
        next_sample = time.monotonic()
        while time.monotonic() < end:
            if time.monotonic() >= next_sample:
                s = (round(time.monotonic() - (end - seconds)), rss_kb(d.pid()), fds(d.pid()), rss_kb(netd.pid()),
                     fds(netd.pid()), d.count_running())
                samples.append(s)
                print("  t=%4d s  ecsboxd RSS %6d KiB fds %4d   netd RSS %6d KiB fds %4d   running %d" % s,
                      f"(ecsboxd anon {rss_kb(d.pid(), 'RssAnon')} file {rss_kb(d.pid(), 'RssFile')} "
                      f"shmem {rss_kb(d.pid(), 'RssShmem')} KiB)", flush=True)
                next_sample += 30
            victims = rng.sample(running, max(1, tasks // 10))
            for arn in victims:
                d.call("StopTask", task=arn, reason="load churn")
                running.remove(arn)
            churned += len(victims)
            fill()
        print(f"churned {churned} tasks in {seconds} s")
        if len(samples) < 3:
            return 0
        # STOPPED tasks accumulate for RETENTION seconds and are pruned every 60 s: compare from the
        # first sample after that warm-up (or the second sample when the run is too short for one).
        warm = [x for x in samples if x[0] >= retention + 60]
        ref, last = (warm[0] if len(warm) >= 2 else samples[1]), samples[-1]
        grew = [name for name, i in (("ecsboxd RSS", 1), ("ecsboxd fds", 2), ("netd RSS", 3), ("netd fds", 4))
                if last[i] > ref[i] * 1.10 + 64]
        print("flat" if not grew else f"grew: {grew} (second sample {ref}, last {last})")
        return 1 if grew else 0


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "clients"
    if mode == "clients":
        return run_clients(int(sys.argv[2]) if len(sys.argv) > 2 else 1000, float(sys.argv[3]) if len(sys.argv) > 3 else 60)
    if mode == "churn":
        return run_churn(int(sys.argv[2]) if len(sys.argv) > 2 else 1000, float(sys.argv[3]) if len(sys.argv) > 3 else 600,
                         int(sys.argv[4]) if len(sys.argv) > 4 else 3600)
    raise SystemExit(__doc__)


if __name__ == "__main__":
    sys.exit(main())
