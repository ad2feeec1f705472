#!/bin/busybox sh
# /init of the VM-image test guest: writes a known pattern to each data
# disk (serials vmraw and vmqcow2) with disk_pattern, then powers off.
# The seed comes from the kernel command line (bfs.seed=N).
/bin/busybox --install -s /bin
export PATH=/bin:/usr/bin:/sbin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /lib/modules/order); do
	insmod "/lib/modules/$m" 2>/dev/null || echo "insmod $m failed"
done
seed=$(sed -n 's/.*bfs\.seed=\([0-9]*\).*/\1/p' /proc/cmdline)
for want in vmraw vmqcow2; do
	dev= i=0
	while [ -z "$dev" ] && [ $i -lt 200 ]; do
		for d in /sys/block/nvme*n1; do
			[ -e "$d/device/serial" ] || continue
			[ "$(cat "$d/device/serial" | tr -d ' ')" = "$want" ] && dev=/dev/${d##*/}
		done
		[ -n "$dev" ] && [ -b "$dev" ] && break
		dev=
		sleep 0.1
		i=$((i + 1))
	done
	if [ -z "$dev" ]; then
		echo "VM-RESULT $want no disk"
		continue
	fi
	out=$(disk_pattern write "$dev" "$seed" 2>&1)
	echo "VM-RESULT $want rc=$? $out"
	out=$(disk_pattern verify "$dev" "$seed" 2>&1)
	echo "VM-RESULT $want-readback rc=$? $out"
done
echo "VM-DONE"
sync
poweroff -f
