#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# deps/missing.sh LIST...: print what `make deps` would have to install
# for the package lists given (deps/build.txt, deps/test.txt), one line
# each with the reason from the list, and exit 1 if anything is missing.
# Packages are asked of dpkg; the tools the Makefile lets a user override
# (CLANG, BPFTOOL) are looked up as commands, and with deps/test.txt the
# libFuzzer runtime is asked of that clang itself, so no path or compiler
# version is written down here.
set -u
CLANG=${CLANG:-clang}
BPFTOOL=${BPFTOOL:-bpftool}
missing=0

say() { echo "missing: $*"; missing=1; }

for list in "$@"; do
	# "package  # why": the first word, and the text after '#'.
	while read -r pkg rest; do
		case $pkg in '' | '#'*) continue ;; esac
		status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null)
		case $status in
		ii*) ;;
		*) say "Debian package $pkg (${rest#*# })" ;;
		esac
	done <"$list"
done

command -v "$CLANG" >/dev/null || say "command $CLANG (CLANG)"
command -v "$BPFTOOL" >/dev/null || say "command $BPFTOOL (BPFTOOL)"
case " $* " in
*test.txt*)
	# clang prints the bare name back when it has no such file.
	rt=$("$CLANG" -print-file-name=libclang_rt.fuzzer-"$(uname -m)".a 2>/dev/null)
	case $rt in
	/*) [ -e "$rt" ] || say "libFuzzer runtime of $CLANG ($rt)" ;;
	*) say "libFuzzer runtime of $CLANG (libclang_rt.fuzzer-$(uname -m).a)" ;;
	esac ;;
esac
exit $missing
