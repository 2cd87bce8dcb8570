"""Investigations: lawful retrospective search for one person, under an approved case.

Live recognition cannot help once a person has passed the cameras. An investigation searches
what was kept — archived sightings of camera groups in archive mode, and recorded video — for
the subject of a **case**, and only under one: a reference, a purpose, a legal basis, a time
window, a camera scope and an expiry, approved by a second person (four eyes). The modules:

- ``cases``: open, approve, refuse, close, purge; the checks every search step asks;
- ``probes``: the subject's photos, checked like enrolment photos;
- ``recordings``: which files, which camera, what start time;
- ``scanner`` / ``scan``: the resumable, parallel scan of recordings;
- ``archive``: the search over archived sightings;
- ``matcher``: the case's probes as a one-person gallery (the live open-set decision);
- ``results``: ranking, timeline, review; ``export``: evidence under four-eyes approval;
- ``thresholds``: what reviewed alerts and candidates say about thresholds;
- ``cli``, ``demo``: the commands.

As in live operation, a face that does not resemble the subject is discarded: only
candidates (and the case's own probes) are ever stored. See docs/investigations.md.
"""
