"""The snapshot audit window: the first view per viewer and camera, then one per window."""

from watchkeeper.api.viewlog import ViewWindow


def test_a_view_is_audited_once_per_viewer_camera_and_window():
    now = [0.0]
    views = ViewWindow(600, clock=lambda: now[0])
    assert views.first_in_window("user:olga", 1)
    now[0] = 5
    assert not views.first_in_window("user:olga", 1)  # the wall's reload: covered
    assert views.first_in_window("user:olga", 2)  # another camera
    assert views.first_in_window("user:otto", 1)  # another viewer
    now[0] = 600
    assert views.first_in_window("user:olga", 1)  # the window has passed


def test_the_table_stays_bounded(monkeypatch):
    monkeypatch.setattr(ViewWindow, "MAX_ENTRIES", 3)
    now = [0.0]
    views = ViewWindow(10, clock=lambda: now[0])
    for camera in range(3):
        views.first_in_window("user:olga", camera)
    now[0] = 20
    views.first_in_window("user:olga", 99)
    assert len(views._audited) == 1
