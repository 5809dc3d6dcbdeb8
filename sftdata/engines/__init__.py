"""How a step runs: :mod:`.local` maps a step over byte ranges of a file with worker
processes and gathers the results in file order; :mod:`.convert` is ``convert``'s step on
it. A distributed engine (Ray) goes beside ``local`` with the same promise: the same rows,
rejects and counts as one process."""
