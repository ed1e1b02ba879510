"""Other projects' super-resolution networks (the ``srup[models]`` extra): weights files read
without running code (:mod:`.checkpoint`), architectures recognised by spandrel
(:mod:`.spandrel_import`, :mod:`.describe`), run by srup's own pipeline and tilers
(:mod:`.network`) with a tiling guarantee measured on the weights (:mod:`.reach`)."""
