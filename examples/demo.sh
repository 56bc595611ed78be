#!/usr/bin/env bash
# The Estuary walkthrough behind `make demo`: example silos, mount, namespace, tags, a tier
# move, status, unmount. Everything lives under $DEMO (default /tmp/estuary-demo) and is
# unmounted on exit, whatever happens.
set -euo pipefail
BIN=${1:-.build/release}
BIN=$(cd "$BIN" && pwd)
DEMO=${DEMO:-/tmp/estuary-demo}
MNT=$DEMO/pool
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

cleanup() { mountpoint -q "$MNT" 2>/dev/null && fusermount3 -u "$MNT" 2>/dev/null || true; }
trap cleanup EXIT
cleanup
rm -rf "$DEMO"
mkdir -p "$DEMO"/{nvme0,hdd1,hdd2} "$MNT"

step "Three existing directory trees: one NVMe silo and two HDD silos"
mkdir -p "$DEMO"/nvme0/projects/apollo "$DEMO"/hdd1/projects/apollo/raw "$DEMO"/hdd1/media/films "$DEMO"/hdd2/media/series
echo "launch checklist" > "$DEMO"/nvme0/projects/apollo/plan.txt
head -c 3000000 /dev/urandom > "$DEMO"/hdd1/projects/apollo/raw/telemetry.bin
head -c 2000000 /dev/urandom > "$DEMO"/hdd1/media/films/"night of the comet.mkv"
echo "episode one" > "$DEMO"/hdd2/media/series/s01e01.mkv
echo "an old copy" > "$DEMO"/hdd2/media/notes.txt; touch -d '2024-01-01' "$DEMO"/hdd2/media/notes.txt
echo "the current copy" > "$DEMO"/hdd1/media/notes.txt
ln -s films/"night of the comet.mkv" "$DEMO"/hdd1/media/latest
run find "$DEMO"/nvme0 "$DEMO"/hdd1 "$DEMO"/hdd2 -not -type d

cat > "$DEMO"/pool.toml <<TOML
[pool]
name = "demo"
state_dir = "$DEMO/state"

[tiers]
order = ["fast", "bulk"]

[[silo]]
name = "nvme0"
path = "$DEMO/nvme0"
tier = "fast"

[[silo]]
name = "hdd1"
path = "$DEMO/hdd1"
tier = "bulk"

[[silo]]
name = "hdd2"
path = "$DEMO/hdd2"
tier = "bulk"
TOML

step "Mount them as one namespace (the first mount assimilates them; no data is copied)"
run "$BIN"/estuaryfs "$DEMO"/pool.toml "$MNT"
run ls -lR "$MNT"
run df -h "$MNT"

step "Where each file's data lives, computed on read"
for f in projects/apollo/plan.txt projects/apollo/raw/telemetry.bin media/notes.txt; do
    printf '%-36s tier=%-5s silo=%s\n' "$f" "$(getfattr --absolute-names --only-values -n user.estuary.tier "$MNT/$f")" \
        "$(getfattr --absolute-names --only-values -n user.estuary.silo "$MNT/$f")"
done

step "Tag a file; tags are user.* xattrs kept in the index"
run setfattr -n user.project -v apollo "$MNT"/projects/apollo/raw/telemetry.bin
run getfattr --absolute-names -d "$MNT"/projects/apollo/raw/telemetry.bin
echo "(also on the backing file, so the silo keeps it without Estuary:)"
run getfattr --absolute-names -d "$DEMO"/hdd1/projects/apollo/raw/telemetry.bin

step "Write through the mount: new files land on the fast tier, renames never cross silos"
run sh -c "echo 'flight log' > '$MNT/projects/apollo/log.txt'"
run mv "$MNT"/media/films "$MNT"/media/movies
printf 'log.txt: silo=%s\n' "$(getfattr --absolute-names --only-values -n user.estuary.silo "$MNT"/projects/apollo/log.txt)"

step "Move a file to the fast tier"
inode_before=$(stat -c %i "$MNT"/projects/apollo/raw/telemetry.bin)
if "$BIN"/estuary --help | grep -q "^ *move "; then
    run "$BIN"/estuary move "$MNT"/projects/apollo/raw/telemetry.bin --to fast --wait
else
    echo "(the lazy extent mover is not in this build: moving the backing file by hand, then rescanning)"
    mkdir -p "$DEMO"/nvme0/projects/apollo/raw
    run mv "$DEMO"/hdd1/projects/apollo/raw/telemetry.bin "$DEMO"/nvme0/projects/apollo/raw/
    run "$BIN"/estuary scan "$MNT"
fi
printf 'telemetry.bin: tier=%s silo=%s inode %s -> %s (unchanged: NFS handles and open programs keep working)\n' \
    "$(getfattr --absolute-names --only-values -n user.estuary.tier "$MNT"/projects/apollo/raw/telemetry.bin)" \
    "$(getfattr --absolute-names --only-values -n user.estuary.silo "$MNT"/projects/apollo/raw/telemetry.bin)" \
    "$inode_before" "$(stat -c %i "$MNT"/projects/apollo/raw/telemetry.bin)"

step "Pool status: silos, space, health, and the shadowed duplicate (media/notes.txt)"
run "$BIN"/estuary status "$MNT"

step "Unmount; every silo is still a plain directory tree"
run fusermount3 -u "$MNT"
run find "$DEMO"/nvme0 "$DEMO"/hdd1 "$DEMO"/hdd2 -not -path '*/.estuary*' -type f
echo
echo "Done. The demo files are in $DEMO."
