#!/usr/bin/env python3
"""A bucket as Estuary's cold tier against rclone, on one SeaweedFS the bench starts on
127.0.0.1 (make bench-s3).

  upload / recall   `estuary move --to cold|fast --wait` of one file against `rclone copy`
                    of the same bytes to and from the same server, interleaved, medians
  first byte        open + 1-byte read of a cold 1 GiB file in the bucket through the mount
  assimilation      objects per second of the first scan of a bucket of N small objects

Everything it starts (weed, estuaryfs) it stops; its files live under --work.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ACCESS, SECRET = "benchkey", "benchsecret"


def free_port_block(count: int) -> int:
    for base in range(21000, 60000, 97):
        ok = True
        for p in range(base, base + count):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", p))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError("no free ports")


class Seaweed:
    def __init__(self, work: str) -> None:
        self.dir = os.path.join(work, "weed")
        os.makedirs(self.dir + "/data", exist_ok=True)
        with open(self.dir + "/s3.json", "w") as f:
            json.dump({"identities": [{"name": "bench", "credentials": [{"accessKey": ACCESS, "secretKey": SECRET}],
                                       "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}, f)
        b = free_port_block(10)
        self.endpoint = f"http://127.0.0.1:{b + 6}"
        args = ["weed", "server", f"-dir={self.dir}/data", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                f"-master.port={b}", f"-master.port.grpc={b + 1}", f"-volume.port={b + 2}", f"-volume.port.grpc={b + 3}",
                "-filer", f"-filer.port={b + 4}", f"-filer.port.grpc={b + 5}",
                "-s3", f"-s3.port={b + 6}", f"-s3.port.grpc={b + 7}", f"-s3.config={self.dir}/s3.json",
                f"-s3.port.iceberg={b + 8}", f"-s3.port.lance={b + 9}",
                "-master.volumeSizeLimitMB=1024", "-volume.max=200", "-metricsPort=0"]
        self.log = open(self.dir + "/weed.log", "w")
        self.process = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        import boto3, botocore.config  # noqa: E401
        self.s3 = boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=ACCESS, aws_secret_access_key=SECRET,
                               region_name="us-east-1",
                               config=botocore.config.Config(s3={"addressing_style": "path"}, max_pool_connections=64))
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                self.s3.list_buckets()
                return
            except Exception:
                if self.process.poll() is not None:
                    break
                time.sleep(0.5)
        self.stop()
        raise RuntimeError("SeaweedFS did not start; see " + self.dir + "/weed.log")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Pool:
    def __init__(self, work: str, name: str, bin_dir: str, server: Seaweed, bucket: str, credentials: str) -> None:
        self.root = os.path.join(work, name)
        self.mnt = os.path.join(self.root, "mnt")
        self.fast = os.path.join(self.root, "fast0")
        for d in (self.mnt, self.fast):
            os.makedirs(d, exist_ok=True)
        self.config = os.path.join(self.root, "pool.toml")
        with open(self.config, "w") as f:
            f.write(f'[pool]\nname = "{name}"\nstate_dir = "{self.root}/state"\n[tiers]\norder = ["fast", "cold"]\n'
                    f'[[silo]]\nname = "fast0"\npath = "{self.fast}"\ntier = "fast"\nwatch = false\n'
                    f'[[silo]]\nname = "archive"\nkind = "s3"\nendpoint = "{server.endpoint}"\nbucket = "{bucket}"\n'
                    f'region = "us-east-1"\ncredentials_file = "{credentials}"\ntier = "cold"\n')
        self.estuaryfs = os.path.join(bin_dir, "estuaryfs")
        self.estuary = os.path.join(bin_dir, "estuary")
        self.process: subprocess.Popen | None = None

    def mount(self) -> float:
        start = time.perf_counter()
        self.process = subprocess.Popen([self.estuaryfs, self.config, self.mnt, "-f"],
                                        stdout=subprocess.DEVNULL, stderr=open(self.root + "/daemon.log", "a"))
        deadline = time.monotonic() + 3600
        while time.monotonic() < deadline:
            if os.path.ismount(self.mnt):
                return time.perf_counter() - start
            if self.process.poll() is not None:
                raise RuntimeError(f"estuaryfs exited with {self.process.returncode}; see {self.root}/daemon.log")
            time.sleep(0.01)
        raise RuntimeError("no mount")

    def unmount(self) -> None:
        subprocess.run(["fusermount3", "-u", self.mnt], check=False)
        if self.process:
            self.process.wait(timeout=120)
            self.process = None

    def move(self, path: str, tier: str) -> float:
        start = time.perf_counter()
        done = subprocess.run([self.estuary, "move", path, "--to", tier, "--wait"], capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(f"estuary move --to {tier}: {done.stdout}{done.stderr}")
        return elapsed


def rclone(server: Seaweed, *args: str) -> float:
    env = dict(os.environ, RCLONE_CONFIG_BENCH_TYPE="s3", RCLONE_CONFIG_BENCH_PROVIDER="Other",
               RCLONE_CONFIG_BENCH_ENDPOINT=server.endpoint, RCLONE_CONFIG_BENCH_ACCESS_KEY_ID=ACCESS,
               RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY=SECRET, RCLONE_CONFIG_BENCH_REGION="us-east-1",
               RCLONE_CONFIG="/dev/null")
    # A CA bundle for real AWS makes rclone's S3 backend refuse to start on plain HTTP.
    env.pop("AWS_CA_BUNDLE", None)
    start = time.perf_counter()
    done = subprocess.run(["rclone", *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"rclone {' '.join(args)}: {done.stderr}")
    return time.perf_counter() - start


def drop_caches() -> None:
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
    except OSError:
        pass


def write_file(path: str, size: int) -> None:
    block = os.urandom(1 << 20)
    with open(path, "wb") as f:
        for _ in range(size >> 20):
            f.write(block)
        f.flush()
        os.fsync(f.fileno())


def transfers(args, server: Seaweed, pool: Pool, work: str) -> dict:
    size = args.size_mib << 20
    source = os.path.join(work, "rclone-src")
    back = os.path.join(work, "rclone-back")
    os.makedirs(source, exist_ok=True)
    write_file(os.path.join(source, "blob"), size)
    write_file(os.path.join(pool.mnt, "blob"), size)
    rows: dict[str, list[float]] = {"estuary upload": [], "estuary recall": [], "rclone upload": [], "rclone download": []}
    for r in range(args.rounds):
        def ours() -> None:
            drop_caches()
            rows["estuary upload"].append(pool.move(os.path.join(pool.mnt, "blob"), "cold"))
            drop_caches()
            rows["estuary recall"].append(pool.move(os.path.join(pool.mnt, "blob"), "fast"))

        def theirs() -> None:
            drop_caches()
            rows["rclone upload"].append(rclone(server, "copy", source + "/blob", f"bench:rclone/r{r}"))
            shutil.rmtree(back, ignore_errors=True)
            drop_caches()
            rows["rclone download"].append(rclone(server, "copy", f"bench:rclone/r{r}/blob", back))
        for step in ((ours, theirs) if r % 2 == 0 else (theirs, ours)):
            step()
        print(f"  round {r + 1}: " + ", ".join(f"{k} {size / v[-1] / 2**20:.0f} MiB/s" for k, v in rows.items()), flush=True)
    mibs = {k: size / statistics.median(v) / 2**20 for k, v in rows.items()}
    return {"size_mib": args.size_mib, "rounds": args.rounds, "MiB/s (median)": mibs,
            "upload ratio (estuary/rclone)": mibs["estuary upload"] / mibs["rclone upload"],
            "recall ratio (estuary/rclone)": mibs["estuary recall"] / mibs["rclone download"]}


def first_byte(args, pool: Pool) -> dict:
    path = os.path.join(pool.mnt, "big")
    write_file(path, 1 << 30)
    pool.move(path, "cold")
    samples = []
    for _ in range(args.rounds):
        pool.unmount()
        drop_caches()
        pool.mount()
        start = time.perf_counter()
        fd = os.open(path, os.O_RDONLY)
        os.read(fd, 1)
        samples.append(time.perf_counter() - start)
        os.close(fd)
    return {"first byte of a cold 1 GiB file, ms (median)": statistics.median(samples) * 1000,
            "samples ms": [round(s * 1000, 1) for s in samples]}


def assimilation(args, server: Seaweed, work: str, credentials: str) -> dict:
    tree = os.path.join(work, "tree")
    per_dir = 1000
    for i in range(args.objects):
        d = os.path.join(tree, f"d{i // per_dir:03d}")
        if i % per_dir == 0:
            os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"f{i:06d}"), "wb") as f:
            f.write(b"x" * 64)
    server.s3.create_bucket(Bucket="many")
    made = rclone(server, "copy", tree, "bench:many", "--transfers", "64", "--checkers", "64", "--no-check-dest")
    print(f"  {args.objects} objects made by rclone in {made:.1f}s", flush=True)
    pool = Pool(work, "assimilate", args.bin_dir, server, "many", credentials)
    start = time.perf_counter()
    done = subprocess.run([pool.estuary, "scan", pool.config], capture_output=True, text=True)
    first = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"estuary scan: {done.stdout}{done.stderr}")
    start = time.perf_counter()
    subprocess.run([pool.estuary, "scan", pool.config], capture_output=True, text=True, check=True)
    again = time.perf_counter() - start
    return {"objects": args.objects, "first scan s": first, "first scan objects/s": args.objects / first,
            "rescan s": again, "rescan objects/s": args.objects / again}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin-dir", required=True)
    parser.add_argument("--size-mib", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--only", default="transfers,first-byte,assimilation")
    parser.add_argument("--work", default=None)
    parser.add_argument("--json", default=None, help="write the results here too")
    args = parser.parse_args()
    if shutil.which("rclone") is None:
        print("rclone is missing: apt-get install rclone (make bench-deps)", file=sys.stderr)
        return 2
    work = args.work or tempfile.mkdtemp(prefix="estuary-bench-s3-")
    server = Seaweed(work)
    credentials = os.path.join(work, "credentials")
    with open(credentials, "w") as f:
        f.write(f"[default]\naws_access_key_id = {ACCESS}\naws_secret_access_key = {SECRET}\n")
    results: dict = {}
    pool = None
    try:
        for bucket in ("estuary", "rclone"):
            server.s3.create_bucket(Bucket=bucket)
        only = args.only.split(",")
        if "transfers" in only or "first-byte" in only:
            pool = Pool(work, "pool", args.bin_dir, server, "estuary", credentials)
            pool.mount()
            if "transfers" in only:
                print("upload and recall against rclone:", flush=True)
                results["transfers"] = transfers(args, server, pool, work)
            if "first-byte" in only:
                print("time to first byte:", flush=True)
                results["first byte"] = first_byte(args, pool)
            pool.unmount()
            pool = None
        if "assimilation" in only:
            print("assimilation:", flush=True)
            results["assimilation"] = assimilation(args, server, work, credentials)
    finally:
        if pool:
            pool.unmount()
        server.stop()
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
