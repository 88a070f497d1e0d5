"""Scrubbing secrets and personal data before anything is written: detectors, the scrubber, its report."""
