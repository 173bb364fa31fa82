"""The fleet's finished requests: a RequestLog keyed by the fleet's request index, with the
replicas that served each (4 bytes more per request), so per-replica results are read off
the same arrays as the fleet's and no request object outlives its request."""

from __future__ import annotations

from array import array

import numpy as np

from llmemu.core.request import Request
from llmemu.core.request_log import RequestLog


class FleetLog(RequestLog):
    def __init__(self) -> None:
        super().__init__()
        self._prefilled_by = array("h")  # MAX_REPLICAS (4096) fits in 16 bits
        self._served_by = array("h")

    def add_served(self, index: int, req: Request, prefilled_by: int, served_by: int) -> None:
        """Request `index` of the workload finished as `req` (its last replica's request,
        carrying the first token from its prefill)."""
        self.add(req)
        self._ints["id"][-1] = index
        self._prefilled_by.append(prefilled_by)
        self._served_by.append(served_by)

    def extend_served(self, columns: dict[str, bytes], index: np.ndarray, served_by: int) -> None:
        """One replica's finished requests as the compiled loop logs them (fastcore.py):
        `columns["id"]` numbers them in the order the replica took them, `index[k]` is the
        workload index of the k-th it took."""
        taken = np.frombuffer(columns["id"], np.int64)
        self.extend(columns, ids=index[taken].astype(np.int64).tobytes())
        self._prefilled_by.extend([served_by] * len(taken))
        self._served_by.extend([served_by] * len(taken))

    def replicas(self, which: str) -> np.ndarray:
        """`prefilled_by` or `served_by` of every logged request, in `column`'s order."""
        values = np.frombuffer(
            self._prefilled_by if which == "prefilled_by" else self._served_by, np.int16
        )
        return values[self._order()]
