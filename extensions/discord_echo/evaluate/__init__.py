"""Stage 5, evaluate: base vs tuned on one loaded model, with held-out numbers and a report.

Model loading, the comparer, metrics, style statistics, the Markdown report and the chat character. Imports every
earlier stage; no front end.
"""
