"""Hydra configs of auditory-dnn (a package so Hydra finds them with `python -m`)."""
