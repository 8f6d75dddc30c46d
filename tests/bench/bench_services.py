#!/usr/bin/python3
"""bench_services.py: a REPLICA service of N awsvpc busybox tasks from CreateService to steady state.

Runs inside a private sandbox (unshare) with netd and ecsboxd, side by side in one run:
  service:  CreateService desiredCount N; the clock stops at the "(service web) has reached a steady
            state." event (every task RUNNING for 2 s); also when runningCount reaches N
  baseline: the same N tasks through RunTask (count 10 per call, all calls at once) until all RUNNING
Then ecsboxd's CPU time for each, and DeleteService force to INACTIVE (every task stopped).
Usage: bench_services.py [N=200] [service-first|runtask-first].
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from sandbox import Ecsboxd, Netd, bench_sandbox, cpu_s, httpd_task_definition  # noqa: E402


def wait_stopped(d, extra, deadline):
    while time.monotonic() < deadline:
        if not d.call("ListTasks", **extra)["taskArns"]:
            return True
        time.sleep(0.5)
    return False


def service_part(d, n):
    # the service
    c0, t0 = cpu_s(d.pid()), time.monotonic()
    d.call("CreateService", serviceName="web", taskDefinition="web", desiredCount=n)
    t_running = t_steady = None
    deadline = t0 + 900
    while time.monotonic() < deadline and t_steady is None:
        s = d.call("DescribeServices", services=["web"])["services"][0]
        if t_running is None and s["runningCount"] == n:
            t_running = time.monotonic() - t0
        if s["events"] and s["events"][0]["message"] == "(service web) has reached a steady state.":
            t_steady = time.monotonic() - t0
        time.sleep(0.1)
    c_svc = cpu_s(d.pid()) - c0
    if t_steady is None:
        sys.exit(f"service not steady after 900 s: {s['runningCount']}/{n} running")
    print(f"REPLICA service of {n} awsvpc tasks, CreateService ->")
    print(f"  runningCount {n}: {t_running:.1f} s ({t_running / n * 1000:.0f} ms per task)")
    print(f"  steady-state event: {t_steady:.1f} s ({t_steady / n * 1000:.0f} ms per task); ecsboxd CPU {c_svc:.1f} s "
          f"({c_svc / n * 1000:.1f} ms per task)")
    t0 = time.monotonic()
    d.call("DeleteService", service="web", force=True)
    while time.monotonic() < t0 + 600 and d.call("DescribeServices", services=["web"])["services"][0]["status"] != "INACTIVE":
        time.sleep(0.2)
    print(f"  DeleteService force -> INACTIVE (all {n} stopped): {time.monotonic() - t0:.1f} s")
    time.sleep(3)

    return t_running


def runtask_part(d, n):
    # baseline: the same tasks by RunTask
    c0, t0 = cpu_s(d.pid()), time.monotonic()
    left = n
    while left > 0:
        left -= len(d.call("RunTask", taskDefinition="web", count=min(10, left))["tasks"])
    while time.monotonic() < t0 + 900 and d.count_running(family="web") < n:
        time.sleep(0.1)
    t_run = time.monotonic() - t0
    c_run = cpu_s(d.pid()) - c0
    print(f"RunTask x{(n + 9) // 10} (count 10) -> {n} RUNNING: {t_run:.1f} s ({t_run / n * 1000:.0f} ms per task); "
          f"ecsboxd CPU {c_run:.1f} s ({c_run / n * 1000:.1f} ms per task)")
    # the tasks go before the next part
    while True:
        arns = d.call("ListTasks", family="web", maxResults=100)["taskArns"]
        if not arns:
            break
        for arn in arns:
            d.call("StopTask", task=arn)
    wait_stopped(d, {"family": "web"}, time.monotonic() + 300)
    time.sleep(3)
    return t_run


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    with bench_sandbox(images=True) as sb:
        Netd(sb)
        d = Ecsboxd(sb, sb.images, extra_args=["--log-level", "warning"])
        d.call("RegisterTaskDefinition", **httpd_task_definition())
        order = sys.argv[2] if len(sys.argv) > 2 else "service-first"
        if order == "service-first":
            t_svc = service_part(d, n)
            t_run = runtask_part(d, n)
        else:
            t_run = runtask_part(d, n)
            t_svc = service_part(d, n)
        print(f"  ratio service (runningCount) / RunTask: {t_svc / t_run:.2f}x ({order})")


if __name__ == "__main__":
    main()
