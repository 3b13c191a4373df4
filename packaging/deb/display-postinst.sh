#!/bin/sh
# palier-display postinst: the palier-display user (seat access through
# its logind session on tty1, plus video/render/input for DRM and touch)
# and the kiosk service.
set -e
if [ "$1" = "configure" ]; then
	if ! getent passwd palier-display >/dev/null; then
		adduser --system --quiet --group --home /var/lib/palier-display --no-create-home \
			--shell /usr/sbin/nologin --gecos "Palier cabin screen" palier-display
	fi
	for g in video render input; do
		if getent group "$g" >/dev/null; then adduser --quiet palier-display "$g"; fi
	done
fi
if [ "$1" = "configure" ] || [ "$1" = "abort-upgrade" ]; then
	if command -v deb-systemd-helper >/dev/null; then
		deb-systemd-helper unmask palier-display.service >/dev/null || true
		deb-systemd-helper enable palier-display.service >/dev/null || true
	fi
	if [ -d /run/systemd/system ]; then
		systemctl --system daemon-reload >/dev/null || true
		deb-systemd-invoke restart palier-display.service >/dev/null || true
	fi
fi
exit 0
