"""Runnable pipeline recipes built on the vidseg package (the package never imports them)."""
