/*
 * SPDX-License-Identifier: GPL-2.0
 *
 * Included by ring.pml twice, once per side, with BLOCK_NAME the name of
 * the inline to define, BLOCK_SIDE the side (PROD or CONS) and TRY the
 * side's try (spsc_try_reserve() or spsc_try_peek()). The mutants
 * MUTANT_NO_SLEEPER_RECHECK and MUTANT_EV_AFTER_TRY take the side they
 * break as their value (-DMUTANT_EV_AFTER_TRY=PROD).
 *
 * ring_block() after its first try failed, without its spins, its peer
 * checks and its timeouts: count itself in sleepers (seq_cst), read ev
 * (seq_cst), try again, futex_wait(ev, seen) if that failed too, stop
 * counting itself (relaxed), and go round again until a try succeeds.
 */
inline BLOCK_NAME(t, slp, ev)
{
	if
	:: ret == EAGAIN ->
		do
		:: true ->
			sleeper_inc(t, slp);
#if defined(MUTANT_NO_SLEEPER_RECHECK) && \
	MUTANT_NO_SLEEPER_RECHECK == BLOCK_SIDE
			/* no try before sleeping: only after waking */
			ev_load(t, ev, seen);
			futex_wait(t, ev, seen);
			rmw_rlx(t, slp, 255);
			TRY;
#elif defined(MUTANT_EV_AFTER_TRY) && \
	MUTANT_EV_AFTER_TRY == BLOCK_SIDE
			/* ev read after the try */
			TRY;
			ev_load(t, ev, seen);
			if
			:: ret == EAGAIN -> futex_wait(t, ev, seen)
			:: else
			fi;
			rmw_rlx(t, slp, 255);
#else
			ev_load(t, ev, seen);
			TRY;
			if
			:: ret == EAGAIN -> futex_wait(t, ev, seen)
			:: else
			fi;
			rmw_rlx(t, slp, 255);
#endif
			seen = 0;
			if
			:: ret != EAGAIN -> break
			:: else
			fi
		od
	:: else
	fi
}
