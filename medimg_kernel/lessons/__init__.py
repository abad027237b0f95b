"""Lesson toolkits: the helpers a single lesson teaches with, too small to be a mission package.

:mod:`.detection` (lesson 04: centre heatmaps, peaks, FROC) and :mod:`.domain` (lesson 05: scanner
shift, histogram matching, BatchNorm adaptation); reachable as ``mk.detection`` and ``mk.domain``.
:mod:`.published` holds the published reference results (with sources and protocols) that lessons 02, 03
and 07 print beside their own in the standard and full tiers.
"""
