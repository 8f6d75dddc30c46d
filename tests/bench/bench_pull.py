#!/usr/bin/python3
"""bench_pull.py: pulling a ~50 MB image from a local registry, ecsbox against skopeo, side by side.

Runs inside a private sandbox (unshare) with Debian's docker-registry on 127.0.0.1:5000 (plain HTTP,
filesystem storage). The image: a busybox layer and 5 layers of 10 MiB random data (gzip level 1),
pushed with the distribution protocol (ocireg.push_all). Each round, alternating which goes first:
  ecsbox:   `ecsbox-pull --insecure 127.0.0.1:5000 REF EMPTYDIR` (registry_pull: manifest, config,
            layers streamed into the blob store, each sha256-verified, fsynced and renamed)
  baseline: `skopeo copy --src-tls-verify=false docker://REF dir:EMPTYDIR` (also verifies digests)
Reports each tool's median wall time and the median of the per-round ratios skopeo/ecsbox.
Usage: bench_pull.py [ROUNDS=5] [LAYER_MB=10] [LAYERS=5].
"""
import os
import shutil
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from ocireg import Layout, Registry, busybox_layers, in_netns, push_all  # noqa: E402
from sandbox import BUILD, bench_sandbox  # noqa: E402

PULL = os.path.join(BUILD, "tools", "ecsbox-pull")


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    layer_mb = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    n_layers = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    if not os.access(PULL, os.X_OK):
        sys.exit(f"{PULL} missing: make all first")
    with bench_sandbox("ecsbox-bench-pull-") as sb:
        reg = Registry(sb, 5000)
        lay = Layout(os.path.join(sb.tmp, "layout"))
        tars = [busybox_layers()[0]] + [os.urandom(layer_mb << 20) for _ in range(n_layers)]
        desc, _ = lay.image(tars, compressions=["gzip"] * len(tars))
        in_netns(sb.pid, push_all, reg.url, "bench/big", lay, desc, "v1")
        size = sum(len(b) for b in lay.blobs.values())
        ref = "127.0.0.1:5000/bench/big:v1"
        env = dict(os.environ, HOME=sb.tmp, TMPDIR=sb.tmp)

        def ecsbox(dest):
            sb.run([PULL, "--insecure", "127.0.0.1:5000", ref, dest], timeout=300)

        def skopeo(dest):
            sb.run(["skopeo", "copy", "--quiet", "--insecure-policy", "--src-tls-verify=false", f"docker://{ref}", f"dir:{dest}"],
                   timeout=300, env=env)

        times = {"ecsbox": [], "skopeo": []}
        ratios = []
        for i in range(rounds):
            order = [("ecsbox", ecsbox), ("skopeo", skopeo)]
            if i % 2:
                order.reverse()
            got = {}
            for name, fn in order:
                dest = os.path.join(sb.tmp, f"{name}-{i}")
                t0 = time.monotonic()
                fn(dest)
                got[name] = time.monotonic() - t0
                shutil.rmtree(dest, ignore_errors=True)
            times["ecsbox"].append(got["ecsbox"])
            times["skopeo"].append(got["skopeo"])
            ratios.append(got["skopeo"] / got["ecsbox"])
            print(f"round {i + 1}: ecsbox {got['ecsbox']:.3f} s, skopeo {got['skopeo']:.3f} s")
        e, s = statistics.median(times["ecsbox"]), statistics.median(times["skopeo"])
        print(f"pull of {size / 1e6:.1f} MB ({len(tars)} layers) from a local docker-registry, {rounds} rounds alternating:")
        print(f"  ecsbox-pull: median {e:.3f} s ({size / e / 1e6:.0f} MB/s)")
        print(f"  skopeo copy: median {s:.3f} s ({size / s / 1e6:.0f} MB/s)")
        print(f"  skopeo/ecsbox, median of the per-round ratios: {statistics.median(ratios):.2f}x")
        reg.stop()


if __name__ == "__main__":
    main()
