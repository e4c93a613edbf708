"""Imprimatur (审发台): the review domain — models, workflow, scanning, audit."""
