"""Imported last by the multiprocess executor's forkserver (see ``PRELOAD_MODULES`` in
``executors.py``): collects, then freezes, the objects of the modules it preloaded.

Every step process is forked from the forkserver and inherits its heap. Without the freeze, the
first full collection in a step walks the hundreds of thousands of objects it inherited and
writes to each one's header, copying every page of the shared heap: 0.2-0.3 s of the 0.3-0.45 s
a step took to start. Frozen objects are never scanned, so they stay shared. Never import this
module anywhere else: freezing is for a process that forks workers.
"""

import gc

gc.collect()
gc.freeze()
