#!/usr/bin/env bash
# Palier's signed Debian repository, made with aptly from Debian
# (docs/PACKAGING.md, "The apt repository"). Channels are suites: canary
# and stable. aptly rather than reprepro: bookworm's reprepro (5.3) keeps
# one version of a package per suite, and a rollback installs the version
# before; aptly's local repositories keep every version added.
#
#   scripts/apt-repo.sh key                  print the public keyring's path (making the key if needed)
#   scripts/apt-repo.sh add SUITE DEB...     add packages to a suite (canary first) and publish it
#   scripts/apt-repo.sh promote VERSION      copy every package of VERSION from canary to stable
#   scripts/apt-repo.sh list [SUITE]         what each suite holds
#
# Environment:
#   PALIER_APT_REPO      the repository folder (default dist/apt): aptly's
#                        database in db/, what a web server serves in
#                        public/; a release keeps it between runs, since a
#                        rollback needs the versions before the newest
#   PALIER_APT_KEY_FILE  an exported OpenPGP secret key (gpg --export-secret-keys
#                        --armor, without a passphrase: CI's secret) to sign with
#   PALIER_APT_KEY_ID    with GNUPGHOME: a key already in that keyring (a
#                        release manager's, through gpg-agent)
#   neither              a throwaway test key, made once in
#                        .cache/apt-test-key/ (never for a real fleet)
#
# The public keyring is $PALIER_APT_REPO/palier-archive-keyring.gpg
# (binary OpenPGP, for apt's Signed-By; gpgv and sqv read it) and .asc.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

REPO=${PALIER_APT_REPO:-dist/apt}
ARCHES="arm64 armhf amd64"
SUITES="canary stable"

need_apt aptly gnupg gpgv

# signing_key sets GNUPGHOME and KEYID: the release key when one is given,
# else the throwaway test key.
signing_key() {
	if [ -n "${PALIER_APT_KEY_FILE:-}" ]; then
		GNUPGHOME=$(mktemp -d)
		export GNUPGHOME
		trap 'rm -rf "$GNUPGHOME"' EXIT
		gpg --batch --quiet --import "$PALIER_APT_KEY_FILE" 2>/dev/null ||
			{ echo "apt-repo: cannot import PALIER_APT_KEY_FILE=$PALIER_APT_KEY_FILE" >&2; exit 1; }
		KEYID=$(gpg --batch --with-colons --list-secret-keys | awk -F: '$1 == "fpr" {print $10; exit}')
	elif [ -n "${PALIER_APT_KEY_ID:-}" ]; then
		KEYID=$PALIER_APT_KEY_ID
	else
		GNUPGHOME=$PWD/.cache/apt-test-key
		export GNUPGHOME
		if [ ! -s "$GNUPGHOME/fingerprint" ]; then
			say "making a throwaway signing key in $GNUPGHOME (test builds only)"
			rm -rf "$GNUPGHOME" && mkdir -p "$GNUPGHOME" && chmod 700 "$GNUPGHOME"
			gpg --batch --quiet --passphrase '' --quick-generate-key \
				"Palier test archive key (throwaway) <palier@palier-lifts.example>" ed25519 sign never 2>/dev/null
			gpg --batch --with-colons --list-secret-keys | awk -F: '$1 == "fpr" {print $10; exit}' >"$GNUPGHOME/fingerprint"
		fi
		KEYID=$(cat "$GNUPGHOME/fingerprint")
	fi
	[ -n "$KEYID" ] || { echo "apt-repo: no signing key" >&2; exit 1; }
}

ap() { aptly -config="$REPO/aptly.conf" "$@"; }

# init writes aptly's configuration (its database in db/, the published
# repository in public/) and the public keyring, and makes one aptly
# repository per channel.
init() {
	mkdir -p "$REPO/db" "$REPO/public"
	local root arches
	root=$(cd "$REPO" && pwd)
	arches=$(printf '"%s",' $ARCHES)
	printf '{"rootDir": "%s/db", "architectures": [%s], "gpgProvider": "gpg2", "skipContentsPublishing": true,\n "FileSystemPublishEndpoints": {"palier": {"rootDir": "%s/public", "linkMethod": "copy"}}}\n' \
		"$root" "${arches%,}" "$root" >"$REPO/aptly.conf"
	gpg --batch --export "$KEYID" >"$REPO/palier-archive-keyring.gpg"
	gpg --batch --armor --export "$KEYID" >"$REPO/palier-archive-keyring.asc"
	[ -s "$REPO/palier-archive-keyring.gpg" ] || { echo "apt-repo: key $KEYID has no public part in $GNUPGHOME" >&2; exit 1; }
	for suite in $SUITES; do
		ap repo show "palier-$suite" >/dev/null 2>&1 ||
			ap repo create -distribution="$suite" -component=main -comment="Palier $suite channel" "palier-$suite" >/dev/null
	done
}

# publish SUITE: (re)writes and signs the suite's indexes under public/.
publish() {
	local suite=$1
	if ap publish list -raw | grep -qx "filesystem:palier:\. $suite"; then
		ap publish update -batch -gpg-key="$KEYID" -skip-contents "$suite" filesystem:palier:. >/dev/null
	else
		ap publish repo -batch -gpg-key="$KEYID" -skip-contents -origin=Palier -label=Palier \
			-architectures="${ARCHES// /,}" "palier-$suite" filesystem:palier:. >/dev/null
	fi
}

cmd=${1:-}
shift || true
signing_key
init
case $cmd in
key)
	echo "$REPO/palier-archive-keyring.gpg"
	;;
add)
	suite=${1:?usage: apt-repo.sh add SUITE DEB...}
	shift
	case " $SUITES " in *" $suite "*) ;; *) echo "apt-repo: suite $suite (want canary or stable)" >&2; exit 1 ;; esac
	ap repo add "palier-$suite" "$@" >/dev/null
	publish "$suite"
	;;
promote)
	v=${1:?usage: apt-repo.sh promote VERSION}
	debver=${v#v}
	debver=${debver/-/\~}
	n=$(ap repo search palier-canary "\$Version (= $debver)" 2>/dev/null | wc -l || true) # search with a query lists every match
	[ "$n" -gt 0 ] || { echo "apt-repo: nothing of version $debver in canary" >&2; exit 1; }
	ap repo copy palier-canary palier-stable "\$Version (= $debver)" >/dev/null
	publish stable
	say "promoted $n packages of $debver from canary to stable"
	;;
list)
	for suite in ${1:-$SUITES}; do
		ap repo show -with-packages "palier-$suite" | sed -n '/^Packages:/,$p' | sed -e '1d' -e "s/^ */$suite: /"
	done
	;;
*)
	sed -n '8,11p' "$0" >&2
	exit 2
	;;
esac
