#!/bin/bash
# Install what bouncefs needs on Debian 12, from Debian's own packages.
# Skips apt entirely when everything is present.
#
#   install-deps.sh build   to build and run it (no qemu, no fio)
#   install-deps.sh deb     that, and what dpkg-buildpackage needs
#   install-deps.sh         everything: build, package, demo and all tests
set -euo pipefail

BUILD=(
	gcc meson ninja-build pkg-config python3
	libfuse3-dev fuse3 liburing-dev libnvme-dev libseccomp-dev libcmocka-dev
)
DEB=(build-essential debhelper dpkg-dev)
TEST=(
	libjson-c-dev python3-prometheus-client
	xfsprogs fio attr acl util-linux e2fsprogs btrfs-progs procps
	# mount -a through systemd's eyes (systemd-fstab-generator)
	systemd
	# The PI end-to-end test: a QEMU guest booting Debian's own kernel
	# (fetched by apt-get download, unpacked, never installed).
	# (newer kernels' modules are compressed: xz by Python, zstd by zstd)
	qemu-system-x86 qemu-utils busybox-static kmod cpio zstd
)

case "${1:-all}" in
build) PACKAGES=("${BUILD[@]}") ;;
deb) PACKAGES=("${BUILD[@]}" "${DEB[@]}") ;;
all) PACKAGES=("${BUILD[@]}" "${DEB[@]}" "${TEST[@]}") ;;
*) echo "usage: install-deps.sh [build|deb]" >&2; exit 2 ;;
esac

missing=()
for p in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages (${missing[*]}); run as root" >&2
	exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
