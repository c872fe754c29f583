#!/usr/bin/env bash
# Keeps a pull request's release-preview comments current: one set of comments per Terraform
# directory (ID), each comment's first line a hidden marker naming the directory, its part number
# and the commit it previews.
#
#   post-comment.sh outdated ID SHA           # before planning SHA: mark previews of other commits outdated
#   post-comment.sh post     ID SHA FILE...   # the preview of SHA, one file per comment, replaces them
#   post-comment.sh failed   ID SHA LOG       # the plan of SHA failed: its error (from LOG) replaces them
#
# Needs GITHUB_REPOSITORY and PR_NUMBER, a GH_TOKEN that may write pull-request comments, and the
# `gh` CLI (preinstalled on GitHub-hosted runners). Other comments are never touched; parts left
# over from a longer preview are deleted.
set -euo pipefail

usage() {
    echo "usage: post-comment.sh outdated|post|failed ID SHA [FILE...|LOG]" >&2
    exit 2
}
[ "$#" -ge 3 ] || usage
cmd="$1" id="$2" sha="$3"
shift 3
: "${GITHUB_REPOSITORY:?GITHUB_REPOSITORY is not set}"
: "${PR_NUMBER:?PR_NUMBER is not set}"
case "$id" in
    *'"'* | *'\'* | *'-->'* | *$'\n'* | '')
        echo "post-comment: the ID must be one line without quotes, backslashes or -->" >&2
        exit 1
        ;;
esac
case "$sha" in
    *[!0-9a-f]* | '')
        echo "post-comment: SHA must be a commit id (hex), got '$sha'" >&2
        exit 1
        ;;
esac

prefix="<!-- immutable-release-preview: $id |"
comments="repos/$GITHUB_REPOSITORY/issues/$PR_NUMBER/comments"
banner_start='> [!WARNING]'

# Our comments: "COMMENT_ID PART COMMIT" per line.
ours() {
    gh api --paginate "$comments" \
        --jq ".[] | select(.body | startswith(\"$prefix\")) | \"\(.id) \(.body | split(\"\n\")[0])\"" |
        sed -n 's/^\([0-9]*\) .*| part \([0-9]*\) | commit \([0-9a-f]*\) -->.*$/\1 \2 \3/p'
}

marker() { printf '%s part %s | commit %s -->' "$prefix" "$1" "$sha"; }

# Creates or updates part N with the body in FILE; updates keep the comment where it is.
put() {
    local part="$1" file="$2" existing="$3" body
    body="$(marker "$part")"$'\n'"$(cat "$file")"
    if [ -n "$existing" ]; then
        gh api --method PATCH "repos/$GITHUB_REPOSITORY/issues/comments/$existing" -f body="$body" >/dev/null
        echo "post-comment: updated part $part (comment $existing)"
    else
        gh api --method POST "$comments" -f body="$body" >/dev/null
        echo "post-comment: created part $part"
    fi
}

# Writes FILE...'s bodies as parts 1..N and deletes parts above N.
replace_all() {
    local listing n=0 file existing
    listing="$(ours)"
    for file in "$@"; do
        n=$((n + 1))
        existing="$(awk -v p="$n" '$2 == p { print $1; exit }' <<<"$listing")"
        put "$n" "$file" "$existing"
    done
    awk -v n="$n" '$2 > n { print $1 }' <<<"$listing" | while read -r old; do
        gh api --method DELETE "repos/$GITHUB_REPOSITORY/issues/comments/$old" >/dev/null
        echo "post-comment: deleted comment $old (a part the new preview does not have)"
    done
}

case "$cmd" in
    outdated)
        # While the new commit is planned, a reviewer must not take the old preview for its.
        ours | while read -r cid part commit; do
            [ "$commit" != "$sha" ] || continue
            body="$(gh api "repos/$GITHUB_REPOSITORY/issues/comments/$cid" --jq .body)"
            rest="${body#*$'\n'}"
            case "$rest" in "$banner_start"*"**Outdated**"*) continue ;; esac
            note="$banner_start"$'\n'"> **Outdated**: this preview is of commit \`${commit:0:12}\`; the pull request is now at \`${sha:0:12}\`, whose preview is being made."
            gh api --method PATCH "repos/$GITHUB_REPOSITORY/issues/comments/$cid" \
                -f body="${body%%$'\n'*}"$'\n'"$note"$'\n\n'"$rest" >/dev/null
            echo "post-comment: marked part $part (comment $cid, commit ${commit:0:12}) outdated"
        done
        ;;
    post)
        [ "$#" -ge 1 ] || usage
        replace_all "$@"
        ;;
    failed)
        [ "$#" -eq 1 ] || usage
        log="$1"
        tmp="$(mktemp)"
        trap 'rm -f "$tmp"' EXIT
        {
            printf '## Release preview\n\n> [!CAUTION]\n'
            printf '> **The plan of commit `%s` failed**, so there is no preview of it: the error is below. Any earlier preview was of another commit and has been replaced.\n\n' "${sha:0:12}"
            # The end of the log holds the error; backticks become quotes so the fence stays closed.
            printf '```text\n'
            if [ ! -f "$log" ]; then
                echo "(no log: a step before the plan failed; the job's log says which)"
            fi
            tail -n 60 "$log" 2>/dev/null | sed 's/\x1b\[[0-9;]*m//g; s/`/'"'"'/g' | cut -c1-400
            printf '\n```\n'
        } >"$tmp"
        replace_all "$tmp"
        ;;
    *) usage ;;
esac
