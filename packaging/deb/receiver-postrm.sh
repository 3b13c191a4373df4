#!/bin/sh
# On purge the stored events go too (/var/lib/private/palier-receiver with
# DynamicUser=).
set -e
if [ -d /run/systemd/system ]; then
	systemctl --system daemon-reload >/dev/null || true
fi
if [ "$1" = "purge" ]; then
	if command -v deb-systemd-helper >/dev/null; then
		deb-systemd-helper purge palier-receiver.service >/dev/null || true
		deb-systemd-helper purge palier-receiver-report.timer >/dev/null || true
	fi
	rm -rf /var/lib/palier-receiver /var/lib/private/palier-receiver
fi
exit 0
