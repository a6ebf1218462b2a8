"""Demo data for ``make demo``: realistic partnerships and cases, loaded over HTTP as the
partnership's staff and client systems would, so it exercises the real services and events."""
