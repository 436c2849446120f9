"""The registry: every version of every model, who approved which, and what happened when.

It owns the versioned config store (``store``: save, sign-off, champions, approvals bound
to the content they approved, all-or-nothing commits with a lock, a journal and recovery,
``verify`` for ``leadcal configs check``) and the audit trail read as rows people can
follow (``audit``). What changed between two versions is ``scoring.model.diff``: a
function of two configs, which the Calibrate page needs as much as the registry.

May import: base, model.
"""
