#!/usr/bin/env bash
# Creates or updates ONE pull-request comment: the one whose body starts with MARKER.
#
#   post-comment.sh MARKER BODY_FILE
#
# Needs GITHUB_REPOSITORY (set by Actions), PR_NUMBER, and a GH_TOKEN allowed to write pull
# requests; uses the `gh` CLI (preinstalled on GitHub-hosted runners). A body longer than a
# comment may hold is cut at a line boundary, with a note pointing at the job summary.
set -euo pipefail

marker="${1:?usage: post-comment.sh MARKER BODY_FILE}"
body_file="${2:?usage: post-comment.sh MARKER BODY_FILE}"
: "${GITHUB_REPOSITORY:?GITHUB_REPOSITORY is not set}"
: "${PR_NUMBER:?PR_NUMBER is not set}"
case "$marker" in
  *'"'* | *'\'*) echo "post-comment: the marker must not contain quotes or backslashes" >&2; exit 1 ;;
esac

# GitHub refuses comments over 65,536 characters; keep room for the marker and the note.
limit=60000
if [ "$(wc -c <"$body_file")" -gt "$limit" ]; then
  body="$(head -c "$limit" "$body_file" | sed '$d')"
  body+=$'\n\n_The preview is longer than a comment can hold: the full preview is in the job summary._'
else
  body="$(cat "$body_file")"
fi
body="$marker"$'\n'"$body"

comments="repos/$GITHUB_REPOSITORY/issues/$PR_NUMBER/comments"
id="$(gh api --paginate "$comments" --jq ".[] | select(.body | startswith(\"$marker\")) | .id" | head -n 1)"
if [ -n "$id" ]; then
  gh api --method PATCH "repos/$GITHUB_REPOSITORY/issues/comments/$id" -f body="$body" >/dev/null
  echo "post-comment: updated comment $id"
else
  gh api --method POST "$comments" -f body="$body" >/dev/null
  echo "post-comment: created a comment"
fi
