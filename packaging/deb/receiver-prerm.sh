#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "$1" = "remove" ]; then
	deb-systemd-invoke stop palier-receiver-report.timer >/dev/null || true
	deb-systemd-invoke stop palier-receiver.service >/dev/null || true
fi
exit 0
