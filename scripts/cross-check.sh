#!/usr/bin/env bash
# cross-check.sh — prove that the portable core builds for a Cortex-M4F with
# no OS and no malloc, and report what it costs in flash and RAM.
#
# Usage: scripts/cross-check.sh        (from any directory; writes build-cross/)
#   CROSS_OUT=dir   build folder instead of build-cross/ (relative to the repo)
#
# What it does, and why each step is there:
#  1. compiles every core/src/*.c with arm-none-eabi-gcc for the Cortex-M4F
#     (hard float, fpv4-sp-d16), warnings as errors: the core is C11 only;
#  2. lists each core object's undefined symbols (arm-none-eabi-nm -u) and fails
#     if one is a heap function (malloc & co.) or an OS / clock / stdio call.
#     This runs before newlib is linked, so only the core is judged;
#  3. links the core with the firmware stub tests/mcu/main.c against newlib
#     (--specs=nosys.specs, --gc-sections) and prints text/data/bss of the
#     4-circuit image; a second image with -DBM_MAX_CIRCUITS=1 shows that the
#     options header is overridable and what one circuit costs;
#  4. prints the worst stack depth of the core's entry points (from gcc's call
#     graph, -fcallgraph-info=su) and sizeof(bm_meter) and friends for the target ABI (tests/mcu/sizes.c, read back with nm -S:
#     nothing is run on the host).
# Needs gcc-arm-none-eabi and libnewlib-arm-none-eabi (scripts/deps.sh test).
set -euo pipefail

cd "$(dirname "$0")/.."
export LC_ALL=C # the linker map is parsed below
out=${CROSS_OUT:-build-cross}

for tool in arm-none-eabi-gcc arm-none-eabi-nm arm-none-eabi-size; do
	if ! command -v "$tool" >/dev/null; then
		echo "cross-check: $tool not found; install it with: scripts/deps.sh test" >&2
		exit 1
	fi
done

cflags=(-std=c11 -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -Os
	-ffunction-sections -fdata-sections
	-Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Werror
	-Icore/include -Icore/src)
# Only for the core objects: per-function stack frames and call edges (NAME.ci),
# from which the worst stack depth of each entry point is reported below.
coreflags=(-fcallgraph-info=su)
# shellcheck disable=SC2054 # the comma is part of the linker flag
ldflags=(--specs=nosys.specs -Wl,--gc-sections)

# What the core may not call (DESIGN.md: no malloc / OS / clock / I/O).
# Formatting into a buffer (snprintf), string.h, math.h and assert are fine.
heap_syms='malloc calloc realloc free aligned_alloc posix_memalign memalign valloc
reallocarray strdup strndup _malloc_r _calloc_r _realloc_r _free_r _sbrk sbrk'
os_syms='printf vprintf fprintf vfprintf puts fputs putchar fputc putc fwrite fread
fopen fclose fflush fgets fgetc getc getchar scanf fscanf perror _impure_ptr
open close read write lseek ioctl time clock clock_gettime gettimeofday sleep
usleep nanosleep exit _exit getenv system signal raise'

shopt -s nullglob
sources=(core/src/*.c)
if [ ${#sources[@]} -eq 0 ]; then
	echo "cross-check: no core/src/*.c to build" >&2
	exit 1
fi

# build NAME [extra cflags...] — compiles the core into $out/NAME/, checks its
# symbols, links $out/NAME.elf. Returns non-zero on any failure.
build() {
	local name=$1 dir=$out/$1 ok=0 src obj sym
	shift
	rm -rf "$dir"
	mkdir -p "$dir"
	local objs=()
	for src in "${sources[@]}"; do
		obj=$dir/$(basename "${src%.c}").o
		if arm-none-eabi-gcc "${cflags[@]}" "${coreflags[@]}" "$@" -c "$src" -o "$obj"; then
			objs+=("$obj")
		else
			echo "cross-check: FAIL $src does not compile for the Cortex-M4F ($name)" >&2
			ok=1
		fi
	done
	[ $ok -eq 0 ] || return 1

	for obj in "${objs[@]}"; do
		while read -r sym; do
			if grep -qxF "$sym" <<<"${heap_syms// /$'\n'}"; then
				echo "cross-check: FAIL core/src/$(basename "${obj%.o}").c references $sym: the core must not allocate" >&2
				ok=1
			elif grep -qxF "$sym" <<<"${os_syms// /$'\n'}"; then
				echo "cross-check: FAIL core/src/$(basename "${obj%.o}").c references $sym: the core does no I/O and reads no clock" >&2
				ok=1
			fi
		done < <(arm-none-eabi-nm -u --format=just-symbols "$obj")
	done
	[ $ok -eq 0 ] || return 1

	arm-none-eabi-gcc "${cflags[@]}" "$@" -c tests/mcu/main.c -o "$out/$name-main.o"
	if ! arm-none-eabi-gcc "${cflags[@]}" "$@" "${ldflags[@]}" -Wl,-Map="$out/$name.map" \
		"$out/$name-main.o" "${objs[@]}" -lm -o "$out/$name.elf"; then
		echo "cross-check: FAIL the firmware stub does not link ($name)" >&2
		return 1
	fi
}

# sizeof_of OBJ TYPE — the size of bm_sizeof_TYPE in OBJ, in decimal.
sizeof_of() {
	local hex
	hex=$(arm-none-eabi-nm -S "$1" | awk -v s="bm_sizeof_$2" '$4 == s { print $2 }')
	echo $((16#$hex))
}

# core_share MAP DIR — text, data and bss bytes of the linked image that come
# from the objects in DIR (the core), read from the linker map: input sections
# kept after --gc-sections, with their sizes.
core_share() {
	awk -v dir="$2/" '
		function hex(s,  n, i) {
			s = tolower(substr(s, 3)); n = 0
			for (i = 1; i <= length(s); i++) n = n * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
			return n
		}
		/^Linker script and memory map/ { on = 1; next }
		!on { next }
		/^ [.A-Z]/ { sec = $1 }
		index($NF, dir) == 1 && $(NF-1) ~ /^0x/ && $(NF-2) ~ /^0x/ {
			n = hex($(NF-1))
			if (sec ~ /^\.(text|rodata|ARM\.ex)/) text += n
			else if (sec ~ /^\.data/) data += n
			else if (sec ~ /^(\.bss|COMMON)/) bss += n
		}
		END { printf "%d %d %d\n", text, data, bss }' "$1"
}

# stack_report CI... — from gcc's call-graph files: for the entry points the
# port calls (public bm_* functions that the core itself does not call), the
# deepest chain of stack frames, largest first. Recursion is reported, not followed.
stack_report() {
	awk '
		/^node:/ {
			t = $0; sub(/.*title: "/, "", t); sub(/".*/, "", t)
			if (match($0, /\\n[0-9]+ bytes \(/)) {
				b = substr($0, RSTART + 2); sub(/ .*/, "", b)
				if (b + 0 > frame[t] + 0) frame[t] = b
				if ($0 !~ /bytes \(static\)/) dyn[t] = 1
				def[t] = 1
			}
		}
		/^edge:/ {
			a = $0; sub(/.*sourcename: "/, "", a); sub(/".*/, "", a)
			z = $0; sub(/.*targetname: "/, "", z); sub(/".*/, "", z)
			adj[a] = adj[a] " " z
			if (a != z) called[z] = 1
		}
		function depth(f,   n, i, k, d, best, bp) {
			if (f in memo) return memo[f]
			if (busy[f]) { recur = recur " " f; return 0 }
			busy[f] = 1; best = 0; bp = ""
			n = split(adj[f], k, " ")
			for (i = 1; i <= n; i++) {
				if (!(k[i] in def)) continue
				d = depth(k[i])
				if (d > best) { best = d; bp = k[i] }
			}
			busy[f] = 0
			memo[f] = frame[f] + best
			path[f] = f (bp == "" ? "" : " > " path[bp])
			return memo[f]
		}
		END {
			for (f in def) depth(f)
			for (f in def) if (f ~ /^bm_/ && !(f in called)) printf "%d\t%s\n", depth(f), path[f]
			for (f in dyn) printf "W\t%s has a dynamic stack frame (VLA or alloca): not bounded\n", f
			if (recur != "") printf "W\trecursion through%s: not bounded\n", recur
		}' "$@" | sort -t "$(printf '\t')" -k1,1nr | awk -F '\t' '
		$1 == "W" { print "  WARNING " $2; next }
		n++ < 4 { printf "  %6d  %s\n", $1, $2 }'
}

mkdir -p "$out"
echo "cross-check: arm-none-eabi-gcc $(arm-none-eabi-gcc -dumpversion), ${#sources[@]} core files, -mcpu=cortex-m4 -mfloat-abi=hard -Os"
build fw4
build fw1 -DBM_MAX_CIRCUITS=1
echo "cross-check: core objects reference no heap, OS, clock or stdio function"
# What the core needs from outside itself: undefined symbols that no core object defines.
external=$(comm -23 <(arm-none-eabi-nm -u --format=just-symbols "$out"/fw4/*.o | sort -u) \
	<(arm-none-eabi-nm --defined-only --format=just-symbols "$out"/fw4/*.o | sort -u))
echo "core needs from libc/libm: $(grep -v '^__aeabi_' <<<"$external" | paste -sd ' ')"
echo "core needs from libgcc: $(grep -c '^__aeabi_[dfilu]*2d\|^__aeabi_d' <<<"$external" || true) soft-double helpers (__aeabi_d*: the FPU is single precision)"
arm-none-eabi-gcc "${cflags[@]}" -c tests/mcu/sizes.c -o "$out/sizes4.o"
arm-none-eabi-gcc "${cflags[@]}" -DBM_MAX_CIRCUITS=1 -c tests/mcu/sizes.c -o "$out/sizes1.o"

echo
echo "image (arm-none-eabi-size, Berkeley: text = code + rodata, data = initialised RAM, bss = zeroed RAM):"
arm-none-eabi-size "$out/fw4.elf" "$out/fw1.elf"
read -r ctext cdata cbss < <(core_share "$out/fw4.map" "$out/fw4")
echo "of fw4.elf, from the core's own objects: text $ctext, data $cdata, bss $cbss"
echo "  (the rest: the stub's static bm_meter and buffers, newlib start-up and libc/libm, libgcc soft double)"
echo
echo "stack (gcc -fcallgraph-info=su: worst call chain inside the core, C-library frames not counted):"
stack_report "$out"/fw4/*.ci
echo
echo "caller-owned structures, bytes (Cortex-M4 ABI):"
printf '  %-22s %8s %8s\n' "" "4 circ." "1 circ."
for t in bm_meter bm_meter_cfg bm_results; do
	printf '  %-22s %8d %8d\n' "sizeof($t)" "$(sizeof_of "$out/sizes4.o" "$t")" "$(sizeof_of "$out/sizes1.o" "$t")"
done
echo "cross-check: OK ($out/fw4.elf, $out/fw1.elf)"
