#!/bin/sh
# palier-agent postrm: forget the service; on purge also the state (outbox,
# counters, cached notices). The palier user stays, as Debian policy asks,
# so files it owned elsewhere never fall to a reused uid.
set -e
if [ -d /run/systemd/system ]; then
	systemctl --system daemon-reload >/dev/null || true
fi
if [ "$1" = "remove" ] && command -v deb-systemd-helper >/dev/null; then
	deb-systemd-helper mask palier-agent.service >/dev/null || true
	deb-systemd-helper mask palier-agent-update.path >/dev/null || true
fi
if [ "$1" = "purge" ]; then
	if command -v deb-systemd-helper >/dev/null; then
		deb-systemd-helper purge palier-agent.service >/dev/null || true
		deb-systemd-helper unmask palier-agent.service >/dev/null || true
		deb-systemd-helper purge palier-agent-update.path >/dev/null || true
		deb-systemd-helper unmask palier-agent-update.path >/dev/null || true
	fi
	rm -rf /var/lib/palier /var/lib/palier-update
fi
exit 0
