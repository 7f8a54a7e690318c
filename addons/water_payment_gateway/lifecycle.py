# This file is part of the water utility modules.
"""The states of a gateway transaction and the only moves between them,
without the ORM.

    created ──> redirected ──> returned ──> verified ──> succeeded
       │            │              │            │
       └────────────┴──────────────┴────────────┴──> failed, cancelled,
                                                     reversed, expired

A transaction is created and stored before the bank is asked for a token,
redirected once the bank gave one, returned when the browser came back
with the callback and verified once the bank confirmed the payment server
to server (and Mellat settled it). It succeeds when the money is in the
accounts as payments. The cron may verify a transaction whose browser never
came back (redirected → verified). Verified money that cannot be booked
stays verified for staff, never goes back: only a reversal at the bank
undoes it."""

CREATED = 'created'
REDIRECTED = 'redirected'
RETURNED = 'returned'
VERIFIED = 'verified'
SUCCEEDED = 'succeeded'
FAILED = 'failed'
CANCELLED = 'cancelled'
REVERSED = 'reversed'
EXPIRED = 'expired'

STATES = [
    CREATED, REDIRECTED, RETURNED, VERIFIED, SUCCEEDED,
    FAILED, CANCELLED, REVERSED, EXPIRED,
    ]
TRANSITIONS = frozenset({
        (CREATED, REDIRECTED),
        (CREATED, FAILED),
        (CREATED, EXPIRED),
        (REDIRECTED, RETURNED),
        (REDIRECTED, VERIFIED),
        (REDIRECTED, FAILED),
        (REDIRECTED, CANCELLED),
        (REDIRECTED, REVERSED),
        (REDIRECTED, EXPIRED),
        (RETURNED, VERIFIED),
        (RETURNED, FAILED),
        (RETURNED, CANCELLED),
        (RETURNED, REVERSED),
        (RETURNED, EXPIRED),
        (VERIFIED, SUCCEEDED),
        })
# Waiting for the bank or the browser: what the cron looks after
PENDING = frozenset({CREATED, REDIRECTED, RETURNED})
# Nothing more happens to them
FINAL = frozenset({SUCCEEDED, FAILED, CANCELLED, REVERSED, EXPIRED})
# The money reached the company
PAID = frozenset({VERIFIED, SUCCEEDED})


class TransitionError(ValueError):
    pass


def allowed(source, target):
    return (source, target) in TRANSITIONS


def check(source, target):
    "Raise TransitionError unless source may become target"
    if not allowed(source, target):
        raise TransitionError(f"{source} → {target}")
