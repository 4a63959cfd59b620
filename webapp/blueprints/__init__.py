"""One package per area of the site; each has `bp`, thin `views.py` and `forms.py`."""
