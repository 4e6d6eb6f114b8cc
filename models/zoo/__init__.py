"""Adapters that score public audio networks from local weights (nothing is downloaded at run
time), each with the paper's layer names where the paper scored it (docs/reference.md section
13) and the input rate and preprocessing its weights expect. Each implements the feature-
extractor contract (:class:`models.contract.ActivationModel`) and is built by
``conf/model/zoo/<name>.yaml`` (``python -m evaluate model=zoo/<name> model.path=<local weights>``)."""
