"""Published arrangements: structured document, completeness check, publication and versions."""
