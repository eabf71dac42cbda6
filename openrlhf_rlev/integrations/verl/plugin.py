"""Registers the `rlev_grpo` advantage estimator in verl, in every process that imports verl.

verl (>= 0.9) imports every entry point of the group `verl.plugins` at the end of `import verl`; this package
declares this module there, so `algorithm.adv_estimator=rlev_grpo` works in the driver, the trainer and every Ray
worker without any code of the user's. With `VERL_USE_EXTERNAL_PLUGINS=none`, name this module in
`VERL_USE_EXTERNAL_MODULES` instead. verl logs a failing plugin only at debug level, so failures are warned here.
"""

import logging

from openrlhf_rlev.integrations.verl.adapter import ESTIMATOR, register_advantage_estimator

try:
    register_advantage_estimator()
except Exception as e:  # keep `import verl` working; selecting rlev_grpo will then fail with verl's own error
    logging.getLogger("openrlhf_rlev.verl").warning(
        "RLEV: advantage estimator %r not registered in verl: %s: %s", ESTIMATOR, type(e).__name__, e
    )
