"""The simulated sky: a synthetic star catalogue (`catalog`), the ``gsc``
program the CCD simulator asks for stars (`gsc`), and astrometry.net index
files built from the same catalogue (`index`), so that the simulator's frames
show stars and can be plate-solved offline.  See docs/analysis.md.

Nothing is imported here: ``python -m indiws.sky.gsc`` runs once per frame
and should load only what it needs."""
