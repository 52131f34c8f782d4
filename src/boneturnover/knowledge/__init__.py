"""The knowledge base shared by the model and the clinical engine.

Data files under ``knowledge/data/`` hold what the literature says, each item with its
source: the facts of the two source reviews and the bibliography (:mod:`.sources`), the
drug catalogue (:mod:`.drugs`) and the marker catalogue (:mod:`.markers`). Nothing is read
at import time: every catalogue loads on first use and is cached.

This package imports only the foundation (``errors``, ``units``); the model, the
treatments layer and the clinical engine import it, never the reverse.
"""
