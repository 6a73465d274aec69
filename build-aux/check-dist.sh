#!/bin/sh
# check-dist.sh: fail `make dist` when a file of the source tree is missing from the tarball.
#
#   sh build-aux/check-dist.sh SRCDIR DISTDIR     (Makefile.am's dist-hook)
#
# The source tree's files are those git tracks, plus the untracked files it
# does not ignore (a new test not committed yet counts too).  Each must be in
# DISTDIR: Makefile.am lists them by name (EXTRA_DIST, *_SOURCES), so that a
# new test, module or script cannot be forgotten without this saying so.
# Outside a git work tree (a tree unpacked from a tarball) there is nothing to
# compare with, and this says so.
set -eu

srcdir=$1
distdir=$(cd "$2" && pwd)

top=$(git -C "$srcdir" rev-parse --show-toplevel 2>/dev/null) || top=
if [ -z "$top" ] || [ "$top" != "$(cd "$srcdir" && pwd -P)" ]; then
	echo "check-dist.sh: $srcdir is not the top of a git work tree: not checking that the tarball holds every source file"
	exit 0
fi

missing=$(
	cd "$srcdir"
	git ls-files --cached --others --exclude-standard | while IFS= read -r f; do
		# a tracked file may be deleted in the work tree
		[ -e "$f" ] || continue
		[ -e "$distdir/$f" ] || echo "$f"
	done
)
if [ -n "$missing" ]; then
	echo "check-dist.sh: error: these files of the source tree are not in the tarball:" >&2
	echo "$missing" | sed 's/^/    /' >&2
	echo "check-dist.sh: detail: Makefile.am names every file the tarball holds, and does not name these." >&2
	echo "check-dist.sh: hint: add them to EXTRA_DIST (or to a _SOURCES list) in Makefile.am; make dist stopped here, and no tarball was made." >&2
	exit 1
fi
echo "check-dist.sh: the tarball holds every file of the source tree"
