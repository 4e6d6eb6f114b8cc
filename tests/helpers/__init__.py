"""What the tests share; the test modules themselves import nothing from one another
(tests/test_layout_rules.py checks it).

Import the modules as ``tests.helpers.<module>``: pyproject.toml's ``pythonpath = ["."]``
puts the repository root on ``sys.path`` under pytest, and the CLI subprocesses start in the
repository root, so the one spelling also works where ``python -m evaluate`` imports a test
module through ``model._target_=tests.test_external_models.TinySeqModel``.

* :mod:`tests.helpers.cli`: ``python -m train`` / ``python -m evaluate[.<tool>]`` as subprocesses.
* :mod:`tests.helpers.configs`: the Hydra configs composed as the apps compose them;
  ``python -m evaluate`` in-process.
* :mod:`tests.helpers.fake_release`: a small fake copy of the fMRI data release.
* :mod:`tests.helpers.our_layout`: checkpoints in our own layout, without training.
* :mod:`tests.helpers.reference_layout`: checkpoints in the authors' released layout.
* :mod:`tests.helpers.wandb_files`: logged values read back from offline W&B runs.
* :mod:`tests.helpers.wsn_files`: HDF5 files in the WSN layout.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"  # committed reference outputs (cochleagram, scoring, ...)

# Tiny corpus shared by the data and training tests (matches conf/debug/fast.yaml).
TINY_CORPUS = dict(
    vocabulary_size=6,
    n_speakers=3,
    train_clips_per_word=3,
    val_clips_per_word=2,
    n_train_backgrounds=4,
    n_val_backgrounds=2,
)
