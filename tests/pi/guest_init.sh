#!/bin/busybox sh
# /init of the PI test guest: runs the hazard on raw XFS over a PI NVMe
# namespace (a), through bouncefs (b), and the probe (c). Every result is
# a line starting with "PI-RESULT", read by run_pi_e2e.py on the host.
/bin/busybox --install -s /bin
export PATH=/bin:/usr/bin:/sbin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /tmp /mnt/pi /mnt/bfs /etc
ln -sf /proc/self/mounts /etc/mtab

done_() { echo "PI-DONE"; sync; poweroff -f; }
die() { echo "PI-RESULT fatal $*"; done_; }

for m in $(cat /lib/modules/order); do
	insmod "/lib/modules/$m" 2>/dev/null || echo "insmod $m failed"
done
# Two controllers: serial bfspi0 has the PI namespace, bfsnopi one
# without PI. Find each by its serial, whatever order they came up in.
pi= nopi= i=0
while [ $i -lt 200 ]; do
	for d in /sys/block/nvme*n1; do
		[ -e "$d/device/serial" ] || continue
		case "$(cat "$d/device/serial")" in
		bfspi0*) pi=/dev/${d##*/} ;;
		bfsnopi*) nopi=/dev/${d##*/} ;;
		esac
	done
	[ -n "$pi" ] && [ -b "$pi" ] && [ -n "$nopi" ] && [ -b "$nopi" ] && break
	sleep 0.1
	i=$((i + 1))
done
[ -n "$pi" ] && [ -b "$pi" ] || die "no PI namespace"
mkfs.xfs -q -f "$pi" || die "mkfs.xfs failed"
mount -t xfs "$pi" /mnt/pi || die "mount xfs failed"
echo "PI-RESULT kernel $(uname -r)"
echo "PI-RESULT sysfs-format $(cat /sys/block/${pi#/dev/}/integrity/format)"
count_integrity() { dmesg -c | grep -ciE 'guard|tag error|I/O Error|protection|integrity'; }
dmesg -c >/dev/null

# (a) the hazard straight on XFS: this kernel does not bounce.
echo "PI-RESULT a-write $(hazard write /mnt/pi/raw.dat 8)"
echo "PI-RESULT a-read $(hazard read /mnt/pi/raw.dat 8)"
echo "PI-RESULT a-dmesg $(count_integrity)"

# (b) the same through bouncefs.
mkdir -p /mnt/pi/back
bouncefs -f /mnt/pi/back /mnt/bfs >/tmp/bouncefs.log 2>&1 &
i=0
while ! grep -q " /mnt/bfs " /proc/mounts && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
grep -q " /mnt/bfs " /proc/mounts || { cat /tmp/bouncefs.log; die "bouncefs did not mount"; }
dmesg -c >/dev/null
echo "PI-RESULT b-write $(hazard write /mnt/bfs/hz.dat 8)"
echo "PI-RESULT b-read $(hazard read /mnt/bfs/hz.dat 8)"
echo "PI-RESULT b-verify $(hazard verify /mnt/bfs/hz.dat 0)"
fio --name=pi --directory=/mnt/bfs --direct=1 --rw=randwrite \
	--bsrange=512-1M --size=48M --ioengine=psync --numjobs=2 \
	--verify=crc32c --do_verify=1 --verify_fatal=1 --verify_state_save=0 \
	--output-format=terse --terse-version=3 >/tmp/fio.out 2>&1
rc=$?
echo "PI-RESULT b-fio rc=$rc errors=$(tail -n1 /tmp/fio.out | cut -d';' -f5)"
[ $rc -eq 0 ] || cat /tmp/fio.out
echo "PI-RESULT b-dmesg $(count_integrity)"
bouncefs stat /mnt/bfs | sed 's/^/PI-STAT /'
umount /mnt/bfs
sleep 1
sed 's/^/PI-LOG /' /tmp/bouncefs.log

# (c) the probe.
echo "PI-RESULT c-json $(bouncefs --probe --json /mnt/pi)"
bouncefs --probe /mnt/pi | sed 's/^/PI-PROBE /'
echo "PI-RESULT c-nopi-json $(bouncefs --probe --json "$nopi")"
bouncefs --probe "$nopi" | sed 's/^/PI-PROBE /'
umount /mnt/pi
done_
