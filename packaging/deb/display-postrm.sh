#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
	systemctl --system daemon-reload >/dev/null || true
fi
if [ "$1" = "purge" ]; then
	if command -v deb-systemd-helper >/dev/null; then
		deb-systemd-helper purge palier-display.service >/dev/null || true
	fi
	rm -rf /var/lib/palier-display /var/cache/palier-display
fi
exit 0
