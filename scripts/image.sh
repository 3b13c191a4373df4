#!/usr/bin/env bash
# Builds the receiver's container image from the static binaries
# $DIST/linux-amd64/palier-receiver and $DIST/linux-arm64/palier-receiver,
# with the notice preview's files from $DIST/preview at
# /usr/share/palier-receiver/preview (scripts/package.sh builds them, then
# runs this):
#
#   $DIST/oci/palier-receiver/             OCI image layout, index tagged <tag>
#   $DIST/palier-receiver_<tag>.oci.tar    the same as a tarball (oci-archive)
#   $DIST/palier-receiver_<tag>.oci.digest "sha256:... <repository>:<tag>"
#
# <tag> is $VERSION without its "v", "+" made "_" (tags allow no "+");
# <repository> is the Helm chart's image.repository, so what is built is
# what the chart runs. No container daemon and no registry: the base is
# assembled by packaging/ociimage from Debian's ca-certificates (installed
# by need_apt) and a non-root passwd, like distroless/static. The same
# binaries, ca-certificates version and commit give the same digest.
# Push: skopeo copy --all oci:$DIST/oci/palier-receiver:<tag> docker://<repository>:<tag>
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

DIST=${DIST:-dist}
: "${VERSION:?VERSION is unset (scripts/package.sh sets it)}"
need_apt ca-certificates

repo=$(sed -n 's/^  repository: *//p' packaging/helm/palier-receiver/values.yaml | head -n 1)
[ -n "$repo" ] || { echo "image: no image.repository in packaging/helm/palier-receiver/values.yaml" >&2; exit 1; }
tag=${VERSION#v}
tag=${tag//+/_}
# Every timestamp in the image: the commit's time, so a rebuild of the same
# commit is byte for byte the same and the image still says when it was made.
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
ca_version=$(dpkg-query -W -f='${Version}' ca-certificates)

say "building image $repo:$tag (linux/amd64, linux/arm64)"
rm -f "$DIST"/*.oci.tar "$DIST"/*.oci.digest
mkdir -p "$DIST/oci"
digest=$(go run ./packaging/ociimage -out "$DIST/oci/palier-receiver" -tar "$DIST/palier-receiver_$tag.oci.tar" \
	-tag "$tag" -epoch "$epoch" -ca-certs /usr/share/ca-certificates/mozilla \
	-binary "linux/amd64=$DIST/linux-amd64/palier-receiver" -binary "linux/arm64=$DIST/linux-arm64/palier-receiver" \
	-preview "$DIST/preview" \
	-annotation "org.opencontainers.image.title=palier-receiver" \
	-annotation "org.opencontainers.image.version=$VERSION" \
	-annotation "org.opencontainers.image.source=https://github.com/palier-lifts/palier" \
	-annotation "org.opencontainers.image.revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)" \
	-annotation "org.opencontainers.image.created=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)" \
	-annotation "io.palier.ca-certificates=debian ca-certificates $ca_version")
echo "$digest $repo:$tag" >"$DIST/palier-receiver_$tag.oci.digest"
say "image $repo:$tag is $digest"
