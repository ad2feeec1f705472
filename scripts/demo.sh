#!/bin/bash
# Install the dependencies, build bouncefs, mount a demo overlay over a
# scratch directory, push direct and buffered I/O through it, show what
# happened, and unmount. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
modprobe fuse 2>/dev/null || true
[ -d build ] || meson setup build >/dev/null
ninja -C build >/dev/null

demo=$(mktemp -d /var/tmp/bouncefs-demo.XXXXXX)
backing=$demo/backing
mnt=$demo/mnt
mkdir -p "$backing" "$mnt"
cleanup() {
	mountpoint -q "$mnt" && umount "$mnt"
	rm -rf "$demo"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "the storage under $backing (bouncefs --probe)"
./build/bouncefs --probe "$backing"

step "mount $backing at $mnt"
./build/bouncefs "$backing" "$mnt"
grep " $mnt " /proc/mounts

step "direct write: 64 MiB with O_DIRECT through the mount"
dd if=/dev/urandom of="$demo/pattern" bs=1M count=64 status=none
dd if="$demo/pattern" of="$mnt/disk.img" bs=1M oflag=direct conv=fsync 2>&1 | tail -1

step "direct read back, and compare"
dd if="$mnt/disk.img" of="$demo/readback" bs=1M iflag=direct 2>&1 | tail -1
cmp "$demo/pattern" "$demo/readback" && echo "direct read matches what was written"

step "512-byte direct I/O (a guest's sector size)"
dd if="$demo/pattern" of="$mnt/disk.img" bs=512 count=8 seek=3 skip=3 oflag=direct conv=notrunc status=none
dd if="$mnt/disk.img" of="$demo/sectors" bs=512 count=8 skip=3 iflag=direct status=none
cmp <(dd if="$demo/pattern" bs=512 count=8 skip=3 status=none) "$demo/sectors" && echo "512-byte sectors match"

step "buffered I/O"
echo "hello through bouncefs" > "$mnt/hello.txt"
cat "$mnt/hello.txt"

step "fio: random direct writes with verification"
fio --name=demo --filename="$mnt/fio.dat" --size=32M --bs=4k --rw=randwrite \
	--direct=1 --ioengine=psync --verify=crc32c --do_verify=1 --verify_state_save=0 \
	--output-format=terse --terse-version=3 >/dev/null && echo "fio verify passed"

step "the backing directory holds the same bytes"
ls -l "$backing"
cmp "$demo/pattern" "$backing/disk.img" && echo "backing file matches"

step "what the daemon did (bouncefs stat)"
./build/bouncefs stat "$mnt"

step "unmount"
umount "$mnt"
echo "done"
