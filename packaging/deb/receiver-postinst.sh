#!/bin/sh
# palier-receiver postinst: the unit runs with DynamicUser=, so no user to
# create; enable and (re)start it.
set -e
if [ "$1" = "configure" ] || [ "$1" = "abort-upgrade" ]; then
	if command -v deb-systemd-helper >/dev/null; then
		deb-systemd-helper unmask palier-receiver.service >/dev/null || true
		deb-systemd-helper enable palier-receiver.service >/dev/null || true
		deb-systemd-helper unmask palier-receiver-report.timer >/dev/null || true
		deb-systemd-helper enable palier-receiver-report.timer >/dev/null || true
	fi
	if [ -d /run/systemd/system ]; then
		systemctl --system daemon-reload >/dev/null || true
		deb-systemd-invoke restart palier-receiver.service >/dev/null || true
		deb-systemd-invoke start palier-receiver-report.timer >/dev/null || true
	fi
fi
exit 0
