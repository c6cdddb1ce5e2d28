"""After the job: what it really cost, and what past jobs teach the next estimate.

* :mod:`~batchcost.afterjob.reconcile`: price a results file from its ``usageMetadata`` and set it
  against the plan (``batchcost reconcile``);
* :mod:`~batchcost.afterjob.calibrate`: learn expected output tokens from past results
  (``estimate --calibrate-from``);
* :mod:`~batchcost.afterjob.pilot`: measure them on a few real requests (``estimate --pilot``).
"""
