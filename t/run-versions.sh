#!/usr/bin/env bash
# run-versions.sh: run the tests against the PostgreSQL server of each supported major version.
#
#   bash t/run-versions.sh [MAJOR...]     from the build tree, after make
#
# Which tests run where (the one place that says it):
#   15 and 18: the whole suite (15 is Debian bookworm's own server, 18 the
#     newest, with the most catalog changes);
#   13, 14, 16 and 17: the tests of what changes with the server's catalog
#     and behaviour: the harness (its schema description and helpers on that
#     version), the core (010-013: rebuild fidelity, --set-not-null, the
#     ledger under load, lock waits), the refusals (014), the swap's catalog
#     check (017), faults and restarts (020, 021), privileges (023), the
#     fidelity schema (030), and the tests of what versions add (050, the
#     catalog of 18, skipped before it; 051, role rights of 16 and 17).
#     Left out there: 015 (name quoting), 016 (the
#     command line) and 024 (bad input), which test pg_rebuild's own parsing
#     and messages, the same on every server; and 022 (concurrency, the
#     longest file), whose locking paths 012 and 013 already run there.
#
# The server of the system's PostgreSQL (configure's PG_BINDIR) is used for
# its own major; the others come from t/pg-versions.sh (fetched once into
# pg-servers/).  Each major's logs go to tmp_versions/pgNN/tmp_check/log.
#
# t/known-failures.txt lists the failures known on each major, with their
# reason: they are reported, and do not fail the run.  Any other failure
# fails it, and so does a listed failure that no longer happens (remove it
# from the list), unless it is listed as one that may fail ("MAJOR?": it
# depends on timing).  The run ends with one line per major (tests, skips, known
# and unexpected failures, wall time) and a total.
#
# Environment: MAKE (default make), PROVE_FLAGS (passed on).
set -euo pipefail

prog=run-versions.sh
srcdir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
builddir=$(pwd)
make=${MAKE:-make}

full_suite_majors="15 18"
partial_majors="13 14 16 17"
partial_tests="t/001_harness.pl t/010_rebuild.pl t/011_set_not_null.pl
	t/012_concurrent.pl t/013_lock_wait.pl t/014_refusals.pl t/017_swap_check.pl
	t/020_crash.pl t/021_restart.pl t/023_security.pl t/030_fidelity.pl
	t/060_pg18_catalog.pl t/061_role_rights.pl"
known_file=$srcdir/t/known-failures.txt

die()
{
	echo "$prog: error: $*" >&2
	exit 2
}

[ -f "$builddir/Makefile" ] ||
	die "no Makefile in $builddir: run this from a configured build tree (./dev.sh versions does it all)"

# The system's server: its bin directory and major, as configure found them.
system_bindir=$("$make" -s --no-print-directory -C "$builddir" print-pg-bindir) ||
	die "cannot ask make for PG_BINDIR"
system_major=$("$system_bindir/postgres" --version | sed -n 's/^postgres (PostgreSQL) \([0-9]*\).*/\1/p')
[ -n "$system_major" ] || die "$system_bindir/postgres --version did not give a version"

if [ $# -gt 0 ]; then
	majors="$*"
else
	majors="13 14 15 16 17 18"
fi

# tests_for MAJOR: the PROVE_TESTS of a major (empty: the whole suite).
tests_for()
{
	case " $full_suite_majors " in
	*" $1 "*) echo "" ;;
	*) echo $partial_tests ;;
	esac
}

# known MAJOR FILE [required]: the known failing subtests of one test file,
# one a line; with "required", only those that must fail (not "MAJOR?").
known()
{
	[ -f "$known_file" ] || return 0
	awk -v m="$1" -v f="$2" -v req="${3:-}" '
		/^[ \t]*(#|$)/ { next }
		($1 == m || (req == "" && $1 == m "?")) && $2 == f {
			sub(/^[^ \t]+[ \t]+[^ \t]+[ \t]+/, ""); print
		}
	' "$known_file"
}

# failures LOG: the failed subtests in a test file's regress log, one a line:
# the description of each "not ok" (not TODO), and "(died)" if the file
# stopped before its end (an exception, a bail-out, no plan).
failures()
{
	perl -e '
		my ($log) = @ARGV;
		open my $fh, "<", $log or do { print "(died)\n"; exit 0 };
		my ($plan, $died) = (0, 0);
		while (<$fh>) {
			s/^\[[0-9:.]+\]\([0-9.]+s\) //;
			if (/^not ok \d+(?: - (.*?))?\s*$/ && !/#\s*TODO/i) {
				my $d = $1 // "(no description)";
				$d =~ s/\s+$//;
				print "$d\n";
			}
			$plan = 1 if /^1\.\.\d+/;
			$died = 1 if /^# Looks like your test exited with \d+ (just )?after/
			  || /^Bail out!/ || /^# Looks like you planned/;
		}
		print "(died)\n" if $died || !$plan;
	' "$1"
}

# matching DESCRIPTION ENTRIES: prints the entry (one a line) that matches
# the failed subtest's description: the same text, or, for an entry that ends
# with "*", a description that starts with the rest.  Fails if none does.
matching()
{
	local e
	while IFS= read -r e; do
		[ -n "$e" ] || continue
		if [ "$e" = "$1" ] || { [ "${e%\*}" != "$e" ] && [[ "$1" == "${e%\*}"* ]]; }; then
			echo "$e"
			return 0
		fi
	done <<<"$2"
	return 1
}

# skips LOG: how many subtests were skipped.
skips()
{
	grep -cE '^(\[[0-9:.]+\]\([0-9.]+s\) )?ok [0-9]+ # skip' "$1" || true
}

summary=()
total_tests=0 total_failed=0 total_skipped=0 total_known=0 failed_majors=""

for major in $majors; do
	case " $full_suite_majors $partial_majors " in
	*" $major "*) ;;
	*) die "PostgreSQL $major is not in the matrix (majors: $full_suite_majors $partial_majors)" ;;
	esac
	if [ "$major" = "$system_major" ]; then
		bindir=$system_bindir
	else
		bindir=$(sh "$srcdir/t/pg-versions.sh" bindir "$major") || exit 1
	fi
	server=$("$bindir/postgres" --version | sed -n 's/^postgres (PostgreSQL) \([0-9.]*\).*/PostgreSQL \1/p')
	tests=$(tests_for "$major")
	out=$builddir/tmp_versions/pg$major
	rm -rf "$out"
	mkdir -p "$out"
	echo
	# shellcheck disable=SC2086 # one line of the test names
	echo "=== $server ($bindir):" ${tests:-the whole suite}

	start=$(date +%s)
	rc=0
	"$make" -s -C "$builddir" check PG_SERVER_BINDIR="$bindir" TESTDIR="$out" \
		PROVE_TESTS="$tests" PROVE_FLAGS="${PROVE_FLAGS:-}" 2>&1 |
		tee "$out/prove.out" || rc=$?
	seconds=$(($(date +%s) - start))

	counts=$(sed -n 's/^Files=\([0-9]*\), Tests=\([0-9]*\),.*/\1 \2/p' "$out/prove.out" | tail -n 1)
	files=${counts% *} ntests=${counts#* }
	[ -n "$counts" ] || files=0 ntests=0

	# Which files failed, from prove's summary; then which subtests, from the logs.
	# (paths in the source tree of a VPATH build are absolute: keep the t/... part)
	failed_files=$(sed -n -E 's/^(.*\/)?(t\/(unit\/)?[^ \/]+) +\(Wstat: .*/\2/p' "$out/prove.out" | sort -u)
	unexpected=() known_seen=() matched=() skipped=0
	for log in "$out"/tmp_check/log/regress_log_*; do
		[ -f "$log" ] || continue
		skipped=$((skipped + $(skips "$log")))
	done
	for f in $failed_files; do
		base=${f##*/}
		base=${base%.pl}
		if [ "$f" = "${f%.pl}" ]; then
			list="(failed)"
		else
			list=$(failures "$out/tmp_check/log/regress_log_$base")
		fi
		expected=$(known "$major" "$f")
		while IFS= read -r d; do
			[ -n "$d" ] || continue
			if e=$(matching "$d" "$expected"); then
				known_seen+=("$f: $d")
				matched+=("$f: $e")
			else
				unexpected+=("$f: $d")
			fi
		done <<<"$list"
	done
	if [ "$rc" != 0 ] && [ -z "$failed_files" ]; then
		unexpected+=("make check failed (exit $rc) before or outside the tests: see above")
	fi
	# Listed failures that did not happen.
	stale=()
	while read -r f; do
		[ -n "$f" ] || continue
		case " $tests " in
		"  " | *" $f "*) ;;
		*) continue ;;
		esac
		while IFS= read -r d; do
			[ -n "$d" ] || continue
			seen=0
			for k in "${matched[@]+"${matched[@]}"}"; do
				[ "$k" = "$f: $d" ] && seen=1
			done
			[ "$seen" = 1 ] || stale+=("$f: $d")
		done < <(known "$major" "$f" required)
	done < <([ -f "$known_file" ] && awk -v m="$major" '!/^[ \t]*(#|$)/ && $1 == m { print $2 }' "$known_file" | sort -u)

	nknown=${#known_seen[@]} nunexpected=${#unexpected[@]} nstale=${#stale[@]}
	result=ok
	if [ "$nunexpected" -gt 0 ] || [ "$nstale" -gt 0 ] || [ "$ntests" = 0 ]; then
		result=FAILED
		failed_majors="$failed_majors $major"
	fi
	echo "--- $server: $files files, $ntests tests, $skipped skipped, $nknown known failures, $nunexpected unexpected, ${seconds}s: $result"
	for k in "${known_seen[@]+"${known_seen[@]}"}"; do
		echo "    known failure (t/known-failures.txt): $k"
	done
	for u in "${unexpected[@]+"${unexpected[@]}"}"; do
		echo "    UNEXPECTED failure: $u"
	done
	for s in "${stale[@]+"${stale[@]}"}"; do
		echo "    listed in t/known-failures.txt but passed: $s (remove it from the list)"
	done
	[ "$ntests" != 0 ] || echo "    no test ran"
	summary+=("$(printf '%-16s %5s %6s %7s %5s %10s %7s  %s' "$server" "$files" "$ntests" "$skipped" "$nknown" "$nunexpected" "${seconds}s" "$result")")
	total_tests=$((total_tests + ntests))
	total_failed=$((total_failed + nknown + nunexpected))
	total_skipped=$((total_skipped + skipped))
	total_known=$((total_known + nknown))
done

echo
echo "=== the version matrix (logs in tmp_versions/pgNN/tmp_check/log)"
printf '%-16s %5s %6s %7s %5s %10s %7s  %s\n' server files tests skipped known unexpected time result
printf '%s\n' "${summary[@]}"
if [ -n "$failed_majors" ]; then
	echo "$prog: unexpected results on PostgreSQL$failed_majors (see the lines above)" >&2
fi
echo "matrix: $((total_tests - total_failed - total_skipped)) passed, $total_failed failed ($total_known of them known), $total_skipped skipped"
[ -z "$failed_majors" ]
