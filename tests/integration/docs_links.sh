#!/bin/bash
# The documentation's references hold: every Markdown link to a .md file (and its #anchor) and
# every bare mention of a NAME.md in README.md and docs/*.md names a file that exists (issue 20:
# docs/fleet.md sent readers to a DESIGN.md that never was). No build, no root, well under 1 s.
. "$(dirname "$0")/lib.sh"

need_cmd "$PY"
cd "$KT_ROOT" || die "no $KT_ROOT"
out=$("$PY" - README.md docs/*.md <<'EOF_PY'
import os, re, sys

def slug(heading):
    # GitHub's anchors: lower case, punctuation dropped, spaces to '-'.
    h = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", h).replace(" ", "-")

def anchors(path):
    with open(path, encoding="utf-8") as f:
        return {slug(m.group(1)) for m in re.finditer(r"^#+\s+(.*)$", f.read(), re.M)}

bad = []
for doc in sys.argv[1:]:
    base = os.path.dirname(doc)
    text = open(doc, encoding="utf-8").read()
    text = re.sub(r"https?://\S+", "", text)  # other sites' files are not ours to check
    seen = set()
    for m in re.finditer(r"\]\(([^)\s#]+\.md)(#[^)\s]*)?\)", text):
        target = os.path.normpath(os.path.join(base, m.group(1)))
        seen.add(m.group(1))
        if not os.path.isfile(target):
            bad.append(f"{doc}: link to {m.group(1)}: no such file")
        elif m.group(2) and m.group(2)[1:] not in anchors(target):
            bad.append(f"{doc}: link to {m.group(1)}{m.group(2)}: no such heading")
    for m in re.finditer(r"(?<![\w./-])((?:[\w.-]+/)*[\w-]+(?:\.[0-9])?\.md)\b", text):
        name = m.group(1)
        if name in seen:
            continue
        places = [os.path.join(base, name), name, os.path.join("docs", name)]
        if not any(os.path.isfile(p) for p in places):
            bad.append(f"{doc}: mentions {name}: no such file")
print("\n".join(bad))
EOF_PY
)
check "every .md a document links to or names exists (and its #anchor)" test -z "$out"
[[ -z $out ]] || while IFS= read -r l; do echo "    $l"; done <<<"$out"
finish
