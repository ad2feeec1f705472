#!/bin/busybox sh
# /init of the PI test guest. For every PI namespace (controllers with
# serial bfspi<N>) and every file system named on the kernel's command line
# (bfs.fs=xfs,ext4,btrfs), it runs the stable-pages race on the raw file
# system (a), then through bouncefs (b), and the probe (c); last, the probe
# of a namespace without PI (serial bfsnopi). Every result is a line
# "PI-RESULT <namespace>/<fs> <key> <value>", read by pi_guest.py on the host.
/bin/busybox --install -s /bin
export PATH=/bin:/usr/bin:/sbin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /tmp /mnt/pi /mnt/bfs /etc
ln -sf /proc/self/mounts /etc/mtab

done_() { echo "PI-DONE"; sync; poweroff -f; }
die() { echo "PI-RESULT - fatal $*"; done_; }
arg() { tr ' ' '\n' </proc/cmdline | sed -n "s/^bfs\.$1=//p" | tr ',' ' '; }

FSES=$(arg fs)
SIZES=$(arg sizes)
SECS=$(arg secs)
NSPI=$(arg ns)
[ -n "$FSES" ] || FSES=xfs
[ -n "$SIZES" ] || SIZES=65536
[ -n "$SECS" ] || SECS=4

for m in $(cat /lib/modules/order); do
	insmod "/lib/modules/$m" 2>/dev/null || echo "insmod $m failed"
done
echo "PI-RESULT - kernel $(uname -r)"

# The namespaces, found by their controllers' serials whatever order they
# came up in.
dev_of() {
	for d in /sys/block/nvme*n1; do
		[ -e "$d/device/serial" ] || continue
		case "$(cat "$d/device/serial")" in
		"$1"*) echo "/dev/${d##*/}"; return ;;
		esac
	done
}
i=0
while [ $i -lt 200 ]; do
	ok=1
	for s in $NSPI bfsnopi; do
		d=$(dev_of "$s")
		[ -n "$d" ] && [ -b "$d" ] || ok=0
	done
	[ $ok = 1 ] && break
	sleep 0.1
	i=$((i + 1))
done

INTEGRITY='guard|tag error|I/O Error|protection|integrity'
count_integrity() { dmesg -c >/tmp/dmesg.txt; grep -ciE "$INTEGRITY" /tmp/dmesg.txt; }
first_integrity() { grep -iE "$INTEGRITY" /tmp/dmesg.txt | head -n1; }

mkfs_for() { # fs dev
	case "$1" in
	xfs) mkfs.xfs -q -f "$2" ;;
	ext4) mkfs.ext4 -q -F "$2" ;;
	btrfs) mkfs.btrfs -q -f "$2" ;;
	esac
}
# btrfs checksums data, and from 6.15 on serves O_DIRECT to such files
# from the page cache: nodatasum keeps its direct I/O direct.
mount_opts() { [ "$1" = btrfs ] && echo "-o nodatasum"; }

# The race at each size on one directory: "<prefix>-<size>-write ..."
race() { # prefix dir
	for bs in $SIZES; do
		echo "PI-RESULT $cell $1-$bs-write $(hazard write "$2/race-$bs.dat" "$SECS" "$bs")"
		echo "PI-RESULT $cell $1-$bs-read $(hazard read "$2/race-$bs.dat" "$SECS" "$bs")"
		rm -f "$2/race-$bs.dat"
	done
}

for ns in $NSPI; do
	dev=$(dev_of "$ns")
	if [ -z "$dev" ]; then
		echo "PI-RESULT $ns/- fatal no namespace"
		continue
	fi
	for fs in $FSES; do
		cell=$ns/$fs
		echo "PI-RESULT $cell sysfs-format $(cat /sys/block/${dev#/dev/}/integrity/format 2>/dev/null || echo none)"
		echo "PI-RESULT $cell lba $(cat /sys/block/${dev#/dev/}/queue/logical_block_size)"
		if ! mkfs_for "$fs" "$dev" >/tmp/mkfs.log 2>&1; then
			echo "PI-RESULT $cell fatal mkfs.$fs: $(tail -n1 /tmp/mkfs.log)"
			continue
		fi
		# shellcheck disable=SC2046
		if ! mount -t "$fs" $(mount_opts "$fs") "$dev" /mnt/pi 2>/tmp/mount.log; then
			echo "PI-RESULT $cell fatal mount $fs: $(tail -n1 /tmp/mount.log)"
			continue
		fi
		dmesg -c >/dev/null

		# (a) the race straight on the file system.
		race a /mnt/pi
		echo "PI-RESULT $cell a-dmesg $(count_integrity)"
		echo "PI-RESULT $cell a-dmesg-first $(first_integrity)"

		# (b) the same through bouncefs, mounted as from fstab: the
		# command returns once the kernel has taken INIT.
		mkdir -p /mnt/pi/back
		rm -f /tmp/bouncefs.log
		timeout 120 bouncefs -o log=/tmp/bouncefs.log /mnt/pi/back /mnt/bfs >/tmp/bouncefs.out 2>&1
		echo "PI-RESULT $cell b-mount rc=$?"
		if ! grep -q " /mnt/bfs " /proc/mounts; then
			sed 's/^/PI-LOG /' /tmp/bouncefs.out /tmp/bouncefs.log
			echo "PI-RESULT $cell fatal bouncefs did not mount"
			umount /mnt/pi
			continue
		fi
		dmesg -c >/dev/null
		race b /mnt/bfs
		echo "PI-RESULT $cell b-verify $(hazard verify /mnt/bfs/verify.dat 0 65536)"
		rm -f /mnt/bfs/verify.dat
		fio --name=pi --directory=/mnt/bfs --direct=1 --rw=randwrite \
			--bsrange=512-1M --size=32M --ioengine=psync --numjobs=2 \
			--verify=crc32c --do_verify=1 --verify_fatal=1 --verify_state_save=0 \
			--output-format=terse --terse-version=3 >/tmp/fio.out 2>&1
		rc=$?
		echo "PI-RESULT $cell b-fio rc=$rc errors=$(tail -n1 /tmp/fio.out | cut -d';' -f5)"
		[ $rc -eq 0 ] || sed 's/^/PI-LOG /' /tmp/fio.out
		rm -f /mnt/bfs/pi.*
		echo "PI-RESULT $cell b-dmesg $(count_integrity)"
		echo "PI-RESULT $cell b-stat $(bouncefs stat --json /mnt/bfs)"
		umount /mnt/bfs
		i=0
		while pidof bouncefs >/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
		echo "PI-RESULT $cell b-lacks $(grep -o 'lacks .*' /tmp/bouncefs.log | head -n1)"
		sed 's/^/PI-LOG /' /tmp/bouncefs.log

		# (c) the probe, on the raw file system.
		echo "PI-RESULT $cell c-json $(bouncefs --probe --json /mnt/pi)"
		umount /mnt/pi
	done
done

nopi=$(dev_of bfsnopi)
[ -n "$nopi" ] && echo "PI-RESULT nopi/- c-json $(bouncefs --probe --json "$nopi")"
done_
