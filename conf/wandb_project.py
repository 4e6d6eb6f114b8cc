"""The one W&B project all of auditory-dnn's runs log into: the training runs
(``conf/logger/wandb.yaml``, ``logger.wandb.project``), the W&B sweeps (``conf/wandb/*.yaml``,
``project:``) and the paper's tables and figures (:func:`evaluate.wandb_report.log_paper`).

The YAML files spell the name out (a YAML file cannot import it); tests/test_wandb_report.py
and tests/test_wandb_sweep.py check that they agree with :data:`WANDB_PROJECT`.
"""

from __future__ import annotations

WANDB_PROJECT = "auditory-dnn"
