"""Scale-out: the camera pipeline on a Ray cluster, with PostgreSQL for state (DESIGN.md).

The only package that knows the distributed engine. Single-machine mode never imports it, and
importing ``watchkeeper.cluster`` itself imports no Ray: the modules that need Ray
(``actors``, ``runtime``, ``status``) are imported by the commands that use them.

- ``plan``: the capacity plan for a deployment (pure arithmetic on measured costs);
- ``buffer``: results kept in memory, bounded, while the database cannot be written;
- ``placement``: which worker gets which camera, by measured load (pure);
- ``actors``: the Ray actors — camera workers and inference actors;
- ``scheduler``: the loop that assigns cameras, watches workers and moves cameras;
- ``runtime``: ``serve --cluster``: the actors, scheduler, outbox dispatcher and live feed;
- ``status``: what ``watchkeeper cluster status`` shows;
- ``local``: a cluster of several Ray nodes on one machine, for tests and benchmarks.
"""
