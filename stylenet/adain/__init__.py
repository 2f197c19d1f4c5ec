"""Arbitrary style transfer (AdaIN, Huang & Belongie 2017): any painting, no training per style.

The network is :mod:`stylenet.models.adain`; here are its loss (:mod:`.loss`), the painting corpus it
trains on (:mod:`.corpus`), its Lightning module (:mod:`.module`) and its inference (:mod:`.stylizer`).
"""
