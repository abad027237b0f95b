"""Course runtime: the environment report, the course kernelspec, the ``%medimg`` IPython extension,
headless course runs and the lesson-metrics recorder they read.

Modules: :mod:`.envinfo` (``medimg env``, banner), :mod:`.kernelspec` ("Python 3 (medimg)"),
:mod:`.ipython_ext` (``%load_ext medimg_kernel``), :mod:`.runner` (``medimg course run``) and
:mod:`.lesson_metrics` (``mk.record_metrics``).
"""
