# SPDX-License-Identifier: GPL-2.0
#
# Parse a shmdev test VM's console log (see vm/init for the markers).
# Variables: nonce (the run's marker token), sections (space separated names
# of sections that must print kselftest totals), bad (ERE of kernel log lines
# that fail a run). Output format: see parse_console in lib.sh.
#
# Only text between "SHMDEV-VM-BEGIN <nonce>" and "SHMDEV-VM-END <nonce>"
# counts; boot noise before and after never parses as a result.

# True if the line ends with the marker NAME: boot noise without a newline
# (firmware escape sequences) may precede a marker on its line.
function marker(name,    m) {
	m = "SHMDEV-VM-" name " " nonce
	return length($0) >= length(m) && substr($0, length($0) - length(m) + 1) == m
}

function problem(text) {
	problems++
	print "PROBLEM " text
}

BEGIN {
	state = "boot"
	nsect = split(sections, want, " ")
	for (i = 1; i <= nsect; i++)
		wanted[want[i]] = 1
}

{ sub(/\r+$/, "") }

marker("BEGIN") { state = "results"; next }
marker("DMESG-BEGIN") { state = "dmesg"; next }
marker("DMESG-END") { state = "after-dmesg"; next }
marker("END") { ended = 1; state = "end"; next }

state == "results" && index($0, "SHMDEV-VM-STATUS " nonce " ") == 1 {
	name = $3
	rc = $4
	print "STATUS " name " " rc
	if (sect_totals)
		print "SECTION " name " " sect_pass " " sect_fail " " sect_skip
	seen[name] = 1
	if (name in wanted) {
		if (sect_totals == 0)
			problem(name ": no kselftest Totals line (exit status " rc ")")
		else if (rc != 0 && sect_fail == 0)
			problem(name ": exit status " rc " but no failing test reported")
	}
	sect_totals = sect_pass = sect_fail = sect_skip = 0
	next
}

state == "results" && index($0, "SHMDEV-VM-ERROR " nonce " ") == 1 {
	problem(substr($0, length("SHMDEV-VM-ERROR " nonce " ") + 1))
	errors++
	next
}

state == "results" && match($0, /Totals: pass:[0-9]+ fail:[0-9]+ xfail:[0-9]+ xpass:[0-9]+ skip:[0-9]+ error:[0-9]+/) {
	split(substr($0, RSTART, RLENGTH), f, /[ :]+/)
	# f: Totals pass N fail N xfail N xpass N skip N error N
	pass += f[3] + f[7]
	fail += f[5] + f[9] + f[13]
	skip += f[11]
	sect_pass += f[3] + f[7]
	sect_fail += f[5] + f[9] + f[13]
	sect_skip += f[11]
	sect_totals++
	next
}

# A failing test line, with the diagnostics printed since the test before.
state == "results" && /^(# )*(not )?ok / {
	if ($0 ~ /^(# )*not ok /) {
		print "FAILED " $0
		for (i = nctx > 8 ? nctx - 7 : 1; i <= nctx; i++)
			print "DETAIL " ctx[i]
	}
	nctx = 0
	next
}

state == "results" && /^#/ {
	ctx[++nctx] = $0
	next
}

# The report of a fault injected on purpose (vm/faults.sh) prints a stack:
# its "Call Trace" is no splat. Everything else in it is still matched.
/FAULT_INJECTION: forcing a failure/ { injected_dump = 1 }
injected_dump && /Call Trace:/ { next }
/<\/TASK>/ { injected_dump = 0 }

# Kernel messages on the console; reported only if the VM never got to
# print its own kernel log (a panic or hang).
state != "dmesg" && /^\[ *[0-9]+\.[0-9]+\] / && $0 ~ bad {
	console_bad[++nconsole_bad] = $0
}

state == "dmesg" && $0 ~ bad {
	dmesg_bad++
	print "DMESG " $0
	next
}

END {
	if (!ended) {
		problem("the VM did not reach the end marker (timeout, panic or crash)")
		for (i = 1; i <= nconsole_bad; i++)
			print "DMESG " console_bad[i]
	}
	else if (!errors)
		for (i = 1; i <= nsect; i++)
			if (!(want[i] in seen))
				problem(want[i] ": section did not report")
	if (dmesg_bad)
		problem("kernel log has " dmesg_bad " offending line(s)")
	print "TOTALS " pass + 0 " " fail + problems " " skip + 0
}
