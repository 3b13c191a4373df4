#!/bin/sh
# palier-agent postinst: the palier system user in the serial (dialout) and
# GPIO (gpio) groups, its directories, the udev rules, and the service.
set -e

if [ "$1" = "configure" ]; then
	# Debian has no gpio group by default (Raspberry Pi OS has one).
	if ! getent group gpio >/dev/null; then
		addgroup --system --quiet gpio
	fi
	if ! getent passwd palier >/dev/null; then
		adduser --system --quiet --group --home /var/lib/palier --no-create-home \
			--shell /usr/sbin/nologin --gecos "Palier elevator agent" palier
	fi
	adduser --quiet palier dialout
	adduser --quiet palier gpio

	# The config is the agent's alone (it may name secrets); /etc/palier
	# stays 0755 because the screen reads its own display.yaml there.
	chown root:palier /etc/palier/agent.yaml
	chmod 0640 /etc/palier/agent.yaml

	if command -v udevadm >/dev/null && [ -d /run/udev ]; then
		udevadm control --reload-rules || true
		udevadm trigger --subsystem-match=tty --subsystem-match=gpio --action=change || true
	fi
fi

if [ "$1" = "configure" ] || [ "$1" = "abort-upgrade" ] || [ "$1" = "abort-deconfigure" ] || [ "$1" = "abort-remove" ]; then
	if command -v deb-systemd-helper >/dev/null; then
		deb-systemd-helper unmask palier-agent.service >/dev/null || true
		if deb-systemd-helper --quiet was-enabled palier-agent.service; then
			deb-systemd-helper enable palier-agent.service >/dev/null || true
		else
			deb-systemd-helper update-state palier-agent.service >/dev/null || true
			deb-systemd-helper enable palier-agent.service >/dev/null || true
		fi
		# The update helper's path unit; never its service, which may be
		# the apt running this very script.
		deb-systemd-helper unmask palier-agent-update.path >/dev/null || true
		deb-systemd-helper enable palier-agent-update.path >/dev/null || true
	fi
	if [ -d /run/systemd/system ]; then
		systemctl --system daemon-reload >/dev/null || true
		# A fresh install waits for the installer's config; an upgrade restarts.
		if [ -n "$2" ]; then
			deb-systemd-invoke restart palier-agent.service >/dev/null || true
		else
			deb-systemd-invoke start palier-agent.service >/dev/null || true
		fi
		deb-systemd-invoke start palier-agent-update.path >/dev/null || true
	fi
fi
exit 0
