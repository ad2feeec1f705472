#!/bin/bash
# Install what bouncefs needs to build, test and demo on Debian 12, from
# Debian's own packages. Skips apt entirely when everything is present.
set -euo pipefail

PACKAGES=(
	gcc meson ninja-build pkg-config
	libfuse3-dev fuse3 liburing-dev libnvme-dev libjson-c-dev libcmocka-dev libseccomp-dev
	python3 xfsprogs fio attr acl util-linux e2fsprogs procps
	# The PI end-to-end test: a QEMU guest booting Debian's own kernel
	# (fetched by apt-get download, unpacked, never installed).
	qemu-system-x86 qemu-utils busybox-static kmod cpio
)

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
