#!/usr/bin/env bash
# Installs the planner from a GitHub release of this project, checked before it runs:
#
#   install-planner.sh VERSION REPOSITORY DIR     # e.g. 0.1.0 immutable-release/terraform-provider-immutable "$RUNNER_TEMP/planner"
#
# Downloads release-planner_<version>_<os>_<arch>.zip and release-planner_<version>_SHA256SUMS
# from the release tagged v<version> (with `gh release download`, so GH_TOKEN is used), refuses a
# zip whose SHA-256 is not the one listed, and unpacks `planner` into DIR/bin. Prints DIR/bin.
set -euo pipefail

[ "$#" -eq 3 ] || { echo "usage: install-planner.sh VERSION REPOSITORY DIR" >&2; exit 2; }
version="${1#v}" repo="$2" dir="$3"
case "$version" in
    *[!0-9A-Za-z.+-]* | '') echo "install-planner: '$1' is not a version" >&2; exit 1 ;;
esac
case "$(uname -s)" in
    Linux) os=linux ;;
    Darwin) os=darwin ;;
    *) echo "install-planner: no planner build for $(uname -s)" >&2; exit 1 ;;
esac
case "$(uname -m)" in
    x86_64 | amd64) arch=amd64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) echo "install-planner: no planner build for $(uname -m)" >&2; exit 1 ;;
esac

zip="release-planner_${version}_${os}_${arch}.zip"
sums="release-planner_${version}_SHA256SUMS"
mkdir -p "$dir/download" "$dir/bin"
gh release download "v$version" --repo "$repo" --dir "$dir/download" --clobber \
    --pattern "$zip" --pattern "$sums" >&2
expected="$(awk -v f="$zip" '$2 == f || $2 == "*" f { print $1 }' "$dir/download/$sums")"
[ -n "$expected" ] || { echo "install-planner: $sums does not list $zip" >&2; exit 1; }
actual="$(sha256sum "$dir/download/$zip" | cut -d' ' -f1)"
if [ "$actual" != "$expected" ]; then
    echo "install-planner: $zip has SHA-256 $actual, but $sums says $expected: not installing it" >&2
    exit 1
fi
rm -f "$dir/bin/planner"
if command -v unzip >/dev/null 2>&1; then
    unzip -o -q "$dir/download/$zip" planner -d "$dir/bin"
else
    python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract("planner", sys.argv[2])' \
        "$dir/download/$zip" "$dir/bin"
fi
chmod +x "$dir/bin/planner"
echo "$dir/bin"
