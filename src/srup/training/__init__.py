"""Training: ``srup train``. :mod:`~srup.training.config` (what a run is asked to do, and
its checks), :mod:`~srup.training.samplers` (the batches), :mod:`~srup.training.validation`
(scoring during the run), :mod:`~srup.training.checkpoint` (the checkpoint, and the rules
that keep work safe), :mod:`~srup.training.loop` (the run: :func:`~srup.training.loop.train`)."""
