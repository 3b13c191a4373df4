#!/bin/sh
# palier-agent prerm: stop the agent before its files go. The outbox stays
# in /var/lib/palier: unsent events survive a remove (not a purge).
set -e
if [ -d /run/systemd/system ] && [ "$1" = "remove" ]; then
	deb-systemd-invoke stop palier-agent.service >/dev/null || true
	deb-systemd-invoke stop palier-agent-update.path >/dev/null || true
fi
exit 0
